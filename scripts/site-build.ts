/**
 * Builds the static site (`dist/`) with Astro when it is missing or older than its sources, so that
 * `npm start` always serves the chapters as they are on disk. `npm start` calls
 * {@link buildSiteIfStale}; run directly, this file is a small CLI (`--help`).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { precompressSite } from './precompress.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** What the site is built from. Directories count too: deleting a chapter changes its folder's mtime. */
export const SITE_SOURCES = ['astro.config.mjs', 'src', 'content', 'public', 'docs', 'package-lock.json'];

/** Written into dist/ after a successful build; its mtime is the build's. Sirv does not serve dotfiles. */
const STAMP = '.podlab-build';

export interface SiteBuildOptions {
	/** Project root. @default the repository this script is in */
	root?: string;
	/** Build even when dist/ is up to date. @default false */
	force?: boolean;
	/** Where the one-line summary goes. @default console.log */
	log?: (line: string) => void;
}

export interface SiteBuildResult {
	built: boolean;
	/** Why it built, or why not: "no previous build", "content/docs/lab-check.mdx changed", "up to date". */
	reason: string;
}

interface Newest {
	path: string;
	mtimeMs: number;
}

function newestUnder(path: string, newest: Newest): Newest {
	let stats;
	try {
		stats = statSync(path);
	} catch {
		return newest;
	}
	if (stats.mtimeMs > newest.mtimeMs) newest = { path, mtimeMs: stats.mtimeMs };
	if (!stats.isDirectory()) return newest;
	for (const entry of readdirSync(path)) newest = newestUnder(join(path, entry), newest);
	return newest;
}

function stampTime(root: string): number | null {
	try {
		return statSync(join(root, 'dist', STAMP)).mtimeMs;
	} catch {
		return null;
	}
}

/** How long to wait for another process's build (Astro builds take seconds, not minutes). */
const LOCK_WAIT_MS = 180_000;

function isAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
}

/**
 * One build at a time per checkout: `npm start` and a test run starting together would otherwise
 * both empty and write dist/ and Astro's caches, and the result is a site with pieces missing.
 * The lock is a directory (created atomically) holding the builder's pid; a lock whose process is
 * gone is taken over.
 */
async function withBuildLock<T>(root: string, task: () => Promise<T>): Promise<T> {
	const lock = join(root, 'node_modules', '.cache', 'podlab-site-build.lock');
	mkdirSync(join(lock, '..'), { recursive: true });
	const deadline = Date.now() + LOCK_WAIT_MS;
	for (;;) {
		try {
			mkdirSync(lock);
			writeFileSync(join(lock, 'pid'), String(process.pid));
			break;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
			let holder = Number.NaN;
			try {
				holder = Number(readFileSync(join(lock, 'pid'), 'utf8'));
			} catch {
				// Just created, pid not written yet: wait for it.
			}
			if (Number.isInteger(holder) && !isAlive(holder)) {
				rmSync(lock, { recursive: true, force: true });
				continue;
			}
			if (Date.now() > deadline) {
				throw new Error(`site-build: another build (pid ${holder}) holds ${lock} for too long; if none is running, remove that folder.`);
			}
			await sleep(250);
		}
	}
	try {
		return await task();
	} finally {
		rmSync(lock, { recursive: true, force: true });
	}
}

/** The variables a build needs from ours: where tools and home are, locale, temp dir, proxies. */
function buildEnvironment(): Record<string, string> {
	const kept: Record<string, string> = {};
	for (const [name, value] of Object.entries(process.env)) {
		if (value !== undefined && /^(PATH|HOME|USER|LANG|LC_\w+|TZ|TMPDIR|TEMP|TMP|SHELL|(HTTPS?|NO)_PROXY|NODE_EXTRA_CA_CERTS)$/i.test(name)) kept[name] = value;
	}
	return kept;
}

/** Runs `astro build` on this Node (npm scripts run on the pinned Node 22), output captured. */
function runAstroBuild(root: string): Promise<void> {
	const astro = join(root, 'node_modules', 'astro', 'bin', 'astro.mjs');
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [astro, 'build'], {
			cwd: root,
			// A clean environment: under vitest the inherited one makes Astro build a development-
			// flavoured site (Starlight's search then says it only works in production builds).
			env: { ...buildEnvironment(), NODE_ENV: 'production', ASTRO_TELEMETRY_DISABLED: '1', NO_COLOR: '1', FORCE_COLOR: '0' },
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		let output = '';
		child.stdout.on('data', (chunk) => (output += chunk));
		child.stderr.on('data', (chunk) => (output += chunk));
		child.on('error', (error) => reject(new Error(`site-build: could not run astro: ${error.message}`, { cause: error })));
		child.on('exit', (code, signal) => {
			if (code === 0) return resolve();
			// From the first error on: the lines before it are Astro's progress.
			const lines = output.trim().split('\n');
			const firstError = lines.findIndex((line) => /\[ERROR\]|error/i.test(line));
			const tail = lines.slice(firstError === -1 ? -30 : firstError).slice(0, 30).join('\n');
			reject(
				new Error(
					`site-build: astro build failed (${signal ?? `exit ${code}`}):\n${tail}\n` +
						'Fix the error above (often a chapter\'s code block meta), then start again.',
				),
			);
		});
	});
}

/**
 * Builds `dist/` if it is missing or older than any of {@link SITE_SOURCES}, and prints one line
 * saying what it did.
 * @throws {Error} with the end of Astro's output when the build fails
 */
export async function buildSiteIfStale(options: SiteBuildOptions = {}): Promise<SiteBuildResult> {
	const root = options.root ?? ROOT;
	// Decided under the lock: a build that finished while this one waited makes it unnecessary.
	return withBuildLock(root, () => buildUnlocked(root, options));
}

async function buildUnlocked(root: string, options: SiteBuildOptions): Promise<SiteBuildResult> {
	const log = options.log ?? console.log;
	const builtAt = stampTime(root);
	const newest = SITE_SOURCES.reduce((found, source) => newestUnder(join(root, source), found), { path: '', mtimeMs: 0 });
	const changed = relative(root, newest.path) || newest.path;

	let reason: string;
	if (options.force) reason = 'rebuild requested';
	else if (builtAt === null) reason = 'no previous build';
	else if (newest.mtimeMs > builtAt) reason = `${changed} changed`;
	else {
		log(`site: dist/ is up to date (newest source: ${changed})`);
		return { built: false, reason: 'up to date' };
	}

	const started = performance.now();
	await runAstroBuild(root);
	const compressed = await precompressSite(join(root, 'dist'));
	writeFileSync(join(root, 'dist', STAMP), `${new Date().toISOString()}\n`);
	const kb = (bytes: number) => `${Math.round(bytes / 1000)} KB`;
	log(
		`site: built dist/ in ${((performance.now() - started) / 1000).toFixed(1)} s (${reason}); ` +
			`${compressed.files} scripts and styles, ${kb(compressed.bytes)}: ${kb(compressed.brotliBytes)} in brotli, ${kb(compressed.gzipBytes)} in gzip`,
	);
	return { built: true, reason };
}

if (import.meta.main) {
	const args = process.argv.slice(2);
	if (args.includes('--help') || args.includes('-h')) {
		console.log(`Usage: node scripts/site-build.ts [--force]

Builds the site into dist/ with Astro when dist/ is missing or older than its sources
(${SITE_SOURCES.join(', ')}). npm start does this on its own.

  --force   build even when dist/ is up to date`);
	} else {
		const unknown = args.filter((arg) => arg !== '--force');
		if (unknown.length > 0) {
			console.error(`site-build: unknown option ${unknown[0]}; see --help`);
			process.exit(2);
		}
		try {
			await buildSiteIfStale({ force: args.includes('--force') });
		} catch (error) {
			console.error((error as Error).message);
			process.exit(1);
		}
	}
}
