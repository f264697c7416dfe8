import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildSiteIfStale } from '../../scripts/site-build.ts';

let root: string;
const lines: string[] = [];
const log = (line: string) => lines.push(line);

/** Sets a path's mtime to `secondsAgo` seconds in the past. */
function age(path: string, secondsAgo: number): void {
	const time = new Date(Date.now() - secondsAgo * 1000);
	utimesSync(join(root, path), time, time);
}

beforeEach(() => {
	// A project with sources and a finished build, all older than the build stamp.
	root = mkdtempSync(join(tmpdir(), 'podlab-site-build-'));
	mkdirSync(join(root, 'content/docs'), { recursive: true });
	mkdirSync(join(root, 'dist'));
	writeFileSync(join(root, 'content/docs/lab-check.mdx'), '# Check\n');
	writeFileSync(join(root, 'astro.config.mjs'), 'export default {}\n');
	writeFileSync(join(root, 'dist/.podlab-build'), '');
	for (const path of ['content/docs', 'content', 'astro.config.mjs']) age(path, 60);
	age('content/docs/lab-check.mdx', 40);
	age('dist/.podlab-build', 30);
	lines.length = 0;
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('buildSiteIfStale', () => {
	it('leaves an up-to-date build alone and says so in one line', async () => {
		expect(await buildSiteIfStale({ root, log })).toEqual({ built: false, reason: 'up to date' });
		expect(lines).toEqual(['site: dist/ is up to date (newest source: content/docs/lab-check.mdx)']);
	});

	it('rebuilds when a source changed, and reports a failing build with what to do', async () => {
		age('content/docs/lab-check.mdx', 0);
		// This scratch project has no Astro installed, so the build it starts fails.
		await expect(buildSiteIfStale({ root, log })).rejects.toThrow(/^site-build: astro build failed \(exit 1\):[\s\S]*then start again\.$/);
		expect(lines).toEqual([]);
	});

	it('notices a deleted chapter through its folder', async () => {
		rmSync(join(root, 'content/docs/lab-check.mdx'));
		await expect(buildSiteIfStale({ root, log })).rejects.toThrow(/astro build failed/);
	});

	it('builds when there is no previous build', async () => {
		rmSync(join(root, 'dist'), { recursive: true });
		await expect(buildSiteIfStale({ root, log })).rejects.toThrow(/astro build failed/);
	});
});

describe('buildSiteIfStale, two at once', () => {
	it('builds one after the other, the second seeing the first one\'s result', async () => {
		const lock = join(root, 'node_modules/.cache/podlab-site-build.lock');
		mkdirSync(lock, { recursive: true });
		writeFileSync(join(lock, 'pid'), String(process.pid));
		let finished = false;
		const waiting = buildSiteIfStale({ root, log }).then((result) => {
			finished = true;
			return result;
		});
		await new Promise((resolve) => setTimeout(resolve, 600));
		expect(finished).toBe(false);
		rmSync(lock, { recursive: true });
		expect(await waiting).toEqual({ built: false, reason: 'up to date' });
	});

	it('takes over the lock of a builder that is gone', async () => {
		const lock = join(root, 'node_modules/.cache/podlab-site-build.lock');
		mkdirSync(lock, { recursive: true });
		// Pids are below 2^22 on Linux: this one cannot be running.
		writeFileSync(join(lock, 'pid'), String(2 ** 22 + 1));
		expect(await buildSiteIfStale({ root, log })).toEqual({ built: false, reason: 'up to date' });
	});
});
