/** The ssh backend's checks at startup and on names: misconfiguration fails at once, saying how to fix it. */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { SshBackend, sessionName, type SshBackendOptions } from '../../../server/backends/ssh/ssh.ts';

function setup(): SshBackendOptions {
	const dir = mkdtempSync(join(tmpdir(), 'podlab-ssh-config-'));
	const identityFile = join(dir, 'id_ed25519');
	execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', identityFile]);
	const knownHostsFile = join(dir, 'known_hosts');
	const hostKey = readPublicKey(identityFile);
	writeFileSync(knownHostsFile, `[10.213.250.2]:2222 ${hostKey}\n10.213.250.3 ${hostKey}\n`);
	return {
		hosts: ['podlab@10.213.250.2:2222', 'podlab@10.213.250.3'],
		identityFile,
		knownHostsFile,
		assignmentsFile: join(dir, 'host-assignments.json'),
		connectTimeoutMs: 1000,
		studentsPerHost: 1,
		logger: pino({ level: 'silent' }),
	};
}

function readPublicKey(identityFile: string): string {
	return execFileSync('ssh-keygen', ['-y', '-f', identityFile], { encoding: 'utf8' }).trim();
}

describe('SshBackend.create', () => {
	it('refuses an identity file that others can read, since ssh would ignore it', async () => {
		const options = setup();
		chmodSync(options.identityFile, 0o644);
		await expect(SshBackend.create(options)).rejects.toThrow(
			`ssh backend: the identity file ${options.identityFile} is readable by others, so ssh would ignore it: chmod 600 ${options.identityFile}`,
		);
	});

	it('refuses a missing identity file', async () => {
		const options = { ...setup(), identityFile: '/nonexistent/id_ed25519' };
		await expect(SshBackend.create(options)).rejects.toThrow(/^ssh backend: cannot read the identity file \/nonexistent\/id_ed25519 \(.*ENOENT.*\); give the private key podlab logs in with$/);
	});

	it('names a host missing from known_hosts and how to add it', async () => {
		const options = { ...setup() };
		options.hosts = [...options.hosts, 'podlab@lab-09.example.org:2200'];
		await expect(SshBackend.create(options)).rejects.toThrow(
			`ssh backend: ${options.knownHostsFile} has no host key for [lab-09.example.org]:2200; check the host's fingerprint, then add it: ssh-keyscan -p 2200 lab-09.example.org >> ${options.knownHostsFile}`,
		);
	});
});

describe('sessionName', () => {
	it('names a terminal’s tmux session after its student and refuses names that could escape it', () => {
		expect(sessionName('r1a2b3c4', 'main')).toBe('podlab-r1a2b3c4-main');
		for (const student of ['', 'a-b', 'a.b', 'a:b', 'a*', "a'b", 'x'.repeat(65)]) {
			expect(() => sessionName(student, 'main'), student).toThrow(`ssh backend: "${student}" is not a student label (1-64 of A-Z, a-z, 0-9, _)`);
		}
		expect(() => sessionName('alice', 'Main;ls')).toThrow('ssh backend: "Main;ls" is not a terminal name');
	});
});
