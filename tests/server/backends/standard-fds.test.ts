/**
 * server/backends/standard-fds.ts: the wrapper every backend starts its programs through, run for
 * real with bash, with stdio from Node (socket pairs, as the ssh backend's client gets them).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { withOnlyStandardFds } from '../../../server/backends/standard-fds.ts';

const home = mkdtempSync(join(tmpdir(), 'podlab-fds-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

function runWrapped(command: string, args: string[], extraFd?: number): Promise<string> {
	const wrapped = withOnlyStandardFds(command, args);
	const child = spawn(wrapped.file, wrapped.args, {
		env: { PATH: process.env.PATH!, HOME: home },
		stdio: ['pipe', 'pipe', 'pipe', ...(extraFd === undefined ? [] : [extraFd])],
	});
	let output = '';
	child.stdout!.on('data', (chunk) => (output += chunk));
	child.stderr!.on('data', (chunk) => (output += chunk));
	child.stdin!.end();
	return new Promise((resolve) => child.once('close', () => resolve(output)));
}

it('starts the program with only descriptors 0, 1 and 2, whatever it was given', async () => {
	const extra = openSync(join(home, 'inherited'), 'w');
	const fds = await runWrapped('ls', ['/proc/self/fd'], extra);
	// ls's own listing shows 0-2 and the directory it reads (3).
	expect(fds.trim().split('\n').sort()).toEqual(['0', '1', '2', '3']);
});

it('does not run the gateway’s ~/.bashrc, though its stdin is a socket', async () => {
	writeFileSync(join(home, '.bashrc'), 'echo "the gateway\'s bashrc ran"\n');
	const output = await runWrapped('echo', ['ran']);
	expect(output).toBe('ran\n');
});
