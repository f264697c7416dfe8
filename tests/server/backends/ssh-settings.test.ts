import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { labBackendProblems, labBackendSettings } from '../../../server/backends/settings.ts';
import { parseSshHost, sshSettings } from '../../../server/backends/ssh/settings.ts';

// The backend choice and the ssh backend's own settings (the others' have their own tests).
const schema = z.object({ labBackend: labBackendSettings.labBackend, ...sshSettings });

describe('parseSshHost', () => {
	it('reads user@host[:port], IPv6 in brackets, port 22 by default', () => {
		expect(parseSshHost('podlab@lab-07.example.org')).toEqual({
			user: 'podlab',
			hostname: 'lab-07.example.org',
			port: 22,
			spec: 'podlab@lab-07.example.org:22',
			label: 'lab-07.example.org:22',
		});
		expect(parseSshHost(' root@10.213.4.2:2222 ')).toMatchObject({ user: 'root', hostname: '10.213.4.2', port: 2222, label: '10.213.4.2:2222' });
		expect(parseSshHost('root@[fd00::5]:22')).toMatchObject({ hostname: 'fd00::5', spec: 'root@[fd00::5]:22', label: '[fd00::5]:22' });
	});

	it('says what form it expects', () => {
		for (const spec of ['10.0.0.5', 'podlab@', '@10.0.0.5', 'podlab@10.0.0.5:0', 'podlab@10.0.0.5:70000', 'pod lab@10.0.0.5', 'podlab@-oProxyCommand=x']) {
			expect(() => parseSshHost(spec), spec).toThrow(`"${spec}" is not a lab host: write user@host or user@host:port, e.g. podlab@lab-07.example.org:22`);
		}
	});
});

describe('lab backend settings', () => {
	it('default to the local backend', () => {
		expect(schema.parse({})).toEqual({ labBackend: 'auto', sshConnectTimeoutMs: 5000, sshStudentsPerHost: 1 });
	});

	it('read a comma-separated pool from the environment', () => {
		const settings = schema.parse({ labBackend: 'ssh', sshHosts: 'podlab@10.0.0.11, podlab@10.0.0.12:2222', sshConnectTimeoutMs: '2000' });
		expect(settings.sshHosts).toEqual(['podlab@10.0.0.11', 'podlab@10.0.0.12:2222']);
		expect(settings.sshConnectTimeoutMs).toBe(2000);
	});

	it('name each bad host and each duplicate', () => {
		const result = schema.safeParse({ sshHosts: 'podlab@10.0.0.11,10.0.0.12,podlab@10.0.0.11:22' });
		expect(result.success).toBe(false);
		expect(result.error!.issues.map((issue) => [issue.path[0], issue.message])).toEqual([
			['sshHosts', '"10.0.0.12" is not a lab host: write user@host or user@host:port, e.g. podlab@lab-07.example.org:22'],
			['sshHosts', 'podlab@10.0.0.11:22 is listed twice'],
		]);
	});

	it('need the hosts, the key and known_hosts together for the ssh backend', () => {
		expect(labBackendProblems(schema.parse({ labBackend: 'ssh' }))).toEqual([
			'PODLAB_SSH_HOSTS: required with PODLAB_LAB_BACKEND=ssh (give the lab hosts, e.g. podlab@10.0.0.11:22,podlab@10.0.0.12:22)',
			'PODLAB_SSH_IDENTITY_FILE: required with PODLAB_LAB_BACKEND=ssh (give the private key podlab logs in with)',
			'PODLAB_SSH_KNOWN_HOSTS: required with PODLAB_LAB_BACKEND=ssh (give a known_hosts file with every lab host’s key (ssh-keyscan, then check the fingerprints))',
		]);
		expect(labBackendProblems(schema.parse({}))).toEqual([]);
		expect(
			labBackendProblems(schema.parse({ labBackend: 'ssh', sshHosts: 'podlab@10.0.0.11', sshIdentityFile: '/etc/podlab/id_ed25519', sshKnownHostsFile: '/etc/podlab/known_hosts' })),
		).toEqual([]);
	});
});
