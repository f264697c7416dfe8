import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { INSTALLED, installProblem, installScript, renderInstallScript } from '../../../server/backends/ssh/install.ts';

const run = promisify(execFile);

/** Runs the install script as the gateway does (`sh -s`), with HOME in a temp dir. */
async function install(script: string, home: string): Promise<string> {
	const child = run('sh', ['-s'], { env: { PATH: process.env.PATH, HOME: home } });
	child.child.stdin!.end(script);
	return (await child).stdout;
}

describe('the install script', () => {
	it('puts podlab’s files in ~/.podlab, private, and reports tmux', async () => {
		const home = mkdtempSync(join(tmpdir(), 'podlab-host-home-'));
		const stdout = await install(await installScript(), home);
		expect(stdout).toMatch(new RegExp(`^${INSTALLED}\ntmux \\d`));
		expect(readFileSync(join(home, '.podlab/podlab.bashrc'), 'utf8')).toBe(readFileSync('server/shell/podlab-ssh.bashrc', 'utf8'));
		expect(readFileSync(join(home, '.podlab/tmux.conf'), 'utf8')).toBe(readFileSync('server/shell/podlab-tmux.conf', 'utf8'));
		expect(readFileSync(join(home, '.podlab/podlab-host.sh'), 'utf8')).toBe(readFileSync('server/backends/ssh/host.sh', 'utf8'));
		expect(statSync(join(home, '.podlab')).mode & 0o777).toBe(0o700);
		expect(statSync(join(home, '.podlab/podlab.bashrc')).mode & 0o777).toBe(0o600);
	});

	it('leaves unchanged files alone and replaces changed ones whole', async () => {
		const home = mkdtempSync(join(tmpdir(), 'podlab-host-home-'));
		const file = join(home, '.podlab/notes');
		await install(renderInstallScript([{ name: 'notes', content: 'one\n' }]), home);
		const first = statSync(file).ino;
		await install(renderInstallScript([{ name: 'notes', content: 'one\n' }]), home);
		expect(statSync(file).ino).toBe(first);
		await install(renderInstallScript([{ name: 'notes', content: 'two\nlines' }]), home);
		expect(readFileSync(file, 'utf8')).toBe('two\nlines\n');
		expect(statSync(file).ino).not.toBe(first);
	});

	it('refuses content that would end its here-document early', () => {
		expect(() => renderInstallScript([{ name: 'evil', content: 'a\nPODLAB_END_OF_FILE\nrm -rf ~\n' }])).toThrow(
			'install script: evil contains the line PODLAB_END_OF_FILE',
		);
	});
});

describe('installProblem', () => {
	it('accepts tmux 3.3 and later, and says what is missing otherwise', () => {
		expect(installProblem(`${INSTALLED}\ntmux 3.3a\n`)).toBeNull();
		expect(installProblem(`${INSTALLED}\ntmux next-3.5\n`)).toBeNull();
		expect(installProblem(`${INSTALLED}\ntmux 3.2a\n`)).toBe('its tmux is 3.2, and podlab needs tmux 3.3 or later');
		expect(installProblem('')).toBe('podlab could not install its files in ~/.podlab');
	});
});

describe('the lab-host rc file', () => {
	it('binds the same keys as the local one (kept in step by hand)', () => {
		const bindings = (file: string) => readFileSync(file, 'utf8').split('\n').filter((line) => line.startsWith('bind '));
		expect(bindings('server/shell/podlab-ssh.bashrc')).toEqual(expect.arrayContaining(bindings('server/shell/podlab.bashrc')));
	});
});
