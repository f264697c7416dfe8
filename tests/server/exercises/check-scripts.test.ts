import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCheckScripts, MAX_SCRIPT_BYTES } from '../../../server/exercises/check-scripts.ts';

const dirs: string[] = [];
afterEach(async () => {
	await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function exercisesDir(files: Record<string, string>): Promise<string> {
	const dir = await mkdtemp(join(tmpdir(), 'podlab-exercises-'));
	dirs.push(dir);
	for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
	return dir;
}

describe('loadCheckScripts', () => {
	it('reads each <id>.sh by its id, and nothing else of the directory', async () => {
		const dir = await exercisesDir({ 'pause-shared-netns.sh': 'exit 1\n', 'README.md': '# notes', 'sidecar-page.sh': 'exit 0\n' });
		expect([...(await loadCheckScripts(dir))]).toEqual([
			['pause-shared-netns', 'exit 1\n'],
			['sidecar-page', 'exit 0\n'],
		]);
	});

	it('has no scripts for a site without the directory', async () => {
		expect((await loadCheckScripts(join(tmpdir(), 'podlab-no-such-dir'))).size).toBe(0);
	});

	it('refuses a script whose name is not an exercise id, or that is too large, naming the file', async () => {
		await expect(loadCheckScripts(await exercisesDir({ 'Pause_Netns.sh': 'exit 0' }))).rejects.toThrow(/Pause_Netns\.sh: "Pause_Netns" is not an exercise id/);
		await expect(loadCheckScripts(await exercisesDir({ 'big.sh': 'x'.repeat(MAX_SCRIPT_BYTES + 1) }))).rejects.toThrow(/big\.sh: a check script is at most 64 KiB/);
	});
});
