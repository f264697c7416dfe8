import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { heredocDelimiter, writeFileCommand } from '../../../src/expressive-code/write-to-lab.ts';

const workdir = mkdtempSync(join(tmpdir(), 'podlab-write-'));
afterAll(() => rmSync(workdir, { recursive: true, force: true }));

/** Runs the command in a real shell, as the lab would, and returns what it printed. */
function runInShell(command: string): string {
	return execFileSync('/bin/bash', ['-c', command], { cwd: workdir, encoding: 'utf8' });
}

describe('writeFileCommand', () => {
	it('writes the file byte for byte, with nothing expanded', () => {
		const contents = 'echo "$HOME" `id` \\n $(whoami)\n\ttabbed\n';
		const output = runInShell(writeFileCommand('notes.sh', contents));
		expect(readFileSync(join(workdir, 'notes.sh'), 'utf8')).toBe(contents);
		expect(output).toContain('notes.sh');
	});

	it('ends the file with a newline', () => {
		runInShell(writeFileCommand('no-newline.c', 'int main(void) { return 0; }'));
		expect(readFileSync(join(workdir, 'no-newline.c'), 'utf8')).toBe('int main(void) { return 0; }\n');
	});

	it('creates missing folders', () => {
		runInShell(writeFileCommand('lab/manifests/pod.yaml', 'kind: Pod\n'));
		expect(readFileSync(join(workdir, 'lab/manifests/pod.yaml'), 'utf8')).toBe('kind: Pod\n');
	});

	it('survives contents that contain the delimiter', () => {
		const contents = 'PODLAB_EOF\nPODLAB_EOF_1\nmore\n';
		runInShell(writeFileCommand('tricky.txt', contents));
		expect(readFileSync(join(workdir, 'tricky.txt'), 'utf8')).toBe(contents);
		expect(heredocDelimiter(contents)).toBe('PODLAB_EOF_2');
	});

	it('refuses an unsafe path', () => {
		expect(() => writeFileCommand('../x', 'a')).toThrow('unsafe file path "../x"');
	});
});
