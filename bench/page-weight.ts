/**
 * Benchmark 5, page weight: the JavaScript and CSS a chapter page loads in Chromium before any Run,
 * and what the first Run adds (the terminal: xterm.js, its addons and styles). Sizes are of the
 * response bodies, raw and gzip-compressed (zlib level 6, as web servers commonly use); `servedKB`
 * is what the gateway actually sent over the wire (equal to `rawKB` when it does not compress).
 * Inline <script> and <style> in the HTML count too. KB = 1000 bytes.
 *
 * Side by side, in the same run: a plain Starlight page built with the same astro and Starlight
 * (bench/lib/plain-starlight.ts), loaded the same way. What the chapter loads above it is podlab's
 * own share (`js-before-above-starlight`, and `js-after-first-run-above-starlight` with the terminal).
 */
import { gzipSync } from 'node:zlib';
import type { Browser, Page, Response } from 'playwright-core';
import { RUN_ATTRIBUTES } from '../src/terminal/page/run-request.ts';
import { browserUnavailable, launchBrowser, newReader } from './lib/browser.ts';
import type { Benchmark, BenchContext } from './lib/context.ts';
import { PLAIN_PAGE, startPlainStarlight } from './lib/plain-starlight.ts';
import { startPodlab } from './lib/podlab.ts';
import { pagePaths, siteUnavailable } from './lib/site.ts';

type Kind = 'js' | 'css';
type Phase = 'before' | 'run';

interface Asset {
	path: string;
	kind: Kind;
	rawBytes: number;
	gzipBytes: number;
	servedBytes: number;
}

/** Collects what a page loads, from the moment it is created. */
class AssetLog {
	readonly assets: Asset[] = [];
	readonly #pending: Array<Promise<void>> = [];

	constructor(page: Page, origin: string) {
		page.on('response', (response) => this.#pending.push(collect(response, origin, this.assets)));
	}

	/** Everything collected so far, once the bodies of the responses seen are read. */
	async settled(): Promise<Asset[]> {
		await Promise.all(this.#pending);
		return [...this.assets];
	}
}

const KINDS = ['js', 'css'] as const;

export const pageWeight: Benchmark = {
	name: 'page-weight',
	description: 'Chromium: JS and CSS of a chapter page before the first Run and loaded by it (gzip), and above a plain Starlight page',
	async run(context) {
		const chapter = siteUnavailable() ? undefined : pagePaths('chapters')[0];
		const why = siteUnavailable() ?? browserUnavailable() ?? (chapter ? null : 'no chapter page in dist/chapters/');
		if (why || !chapter) {
			context.progress.step('page-weight', `skipped: ${why}`);
			for (const kind of KINDS) {
				for (const phase of ['before', 'run'] as const) skip(context, 'podlab', caseName(kind, phase), why ?? '', { kind, phase });
				skip(context, 'starlight', plainCaseName(kind), why ?? '', { kind, phase: 'before' });
				for (const phase of ['before', 'run'] as const) skip(context, 'podlab', aboveCaseName(kind, phase), why ?? '', { kind, phase });
			}
			return;
		}
		const browser = await launchBrowser(context.cleanup);

		context.progress.step('page-weight', 'building a plain Starlight page with the same astro and Starlight');
		const plain = await startPlainStarlight(context.cleanup);
		context.progress.step('page-weight', `built in ${(plain.buildMs / 1000).toFixed(1)} s (astro ${plain.versions.astro}, Starlight ${plain.versions.starlight}); loading ${PLAIN_PAGE}`);
		const plainAssets = await loadAsNewReader(context, browser, plain.origin, PLAIN_PAGE);
		const plainTotals = report(context, 'starlight', plainCaseName, PLAIN_PAGE, 'before', plainAssets, { versions: plain.versions });

		const gateway = await startPodlab({ cleanup: context.cleanup });
		const reader = await newReader(browser);
		context.cleanup.defer('browser context', () => reader.close());
		const page = await reader.newPage();
		const log = new AssetLog(page, gateway.url);

		context.progress.step('page-weight', `loading ${chapter} as a new reader`);
		await page.goto(new URL(chapter, gateway.url).href, { waitUntil: 'networkidle' });
		const before = await log.settled();
		const beforeTotals = report(context, 'podlab', (kind) => caseName(kind, 'before'), chapter, 'before', before);
		above(context, 'before', chapter, beforeTotals, plainTotals);

		const run = page.locator(`button[${RUN_ATTRIBUTES.action}="run"]:visible`).first();
		if ((await run.count()) === 0) {
			for (const kind of KINDS) {
				skip(context, 'podlab', caseName(kind, 'run'), `no Run button on ${chapter}`, { kind, phase: 'run' });
				skip(context, 'podlab', aboveCaseName(kind, 'run'), `no Run button on ${chapter}`, { kind, phase: 'run' });
			}
			return;
		}
		context.progress.step('page-weight', `first Run on ${chapter}`);
		await run.click();
		// The terminal's code loads on the first Run; wait until it is on screen and the network is quiet.
		await page
			.locator('.xterm')
			.first()
			.waitFor({ timeout: 15_000 })
			.catch((error: unknown) => {
				throw new Error(`the first Run on ${chapter} opened no terminal within 15 s`, { cause: error });
			});
		await page.waitForLoadState('networkidle');
		await page.waitForTimeout(1000);
		const loadedByRun = (await log.settled()).slice(before.length);
		const runTotals = report(context, 'podlab', (kind) => caseName(kind, 'run'), chapter, 'run', loadedByRun);
		const afterRun = Object.fromEntries(KINDS.map((kind) => [kind, beforeTotals[kind] + runTotals[kind]])) as Record<Kind, number>;
		above(context, 'run', chapter, afterRun, plainTotals);
	},
};

function caseName(kind: Kind, phase: Phase): string {
	return `${kind === 'js' ? 'JavaScript' : 'CSS'} ${phase === 'before' ? 'before the first Run' : 'loaded by the first Run'}`;
}

function plainCaseName(kind: Kind): string {
	return `${kind === 'js' ? 'JavaScript' : 'CSS'} of a plain Starlight page`;
}

function aboveCaseName(kind: Kind, phase: Phase): string {
	return `${kind}-${phase === 'before' ? 'before' : 'after-first-run'}-above-starlight`;
}

function skip(context: BenchContext, target: string, name: string, why: string, extra: Record<string, string>): void {
	context.report.add({ bench: 'page-weight', target, case: name, ...extra, n: 0, p50: null, p99: null, unit: 'KB gzip', skipped: why });
}

/** Opens `path` in a fresh reader's page and returns what it loaded until the network was idle. */
async function loadAsNewReader(context: BenchContext, browser: Browser, origin: string, path: string): Promise<Asset[]> {
	const reader = await newReader(browser);
	try {
		const page = await reader.newPage();
		const log = new AssetLog(page, origin);
		await page.goto(new URL(path, origin).href, { waitUntil: 'networkidle' });
		return await log.settled();
	} finally {
		await reader.close();
	}
}

async function collect(response: Response, origin: string, assets: Asset[]): Promise<void> {
	const type = response.request().resourceType();
	if (!['script', 'stylesheet', 'document'].includes(type) || response.status() >= 300) return;
	const body = await response.body().catch(() => null);
	if (!body) return;
	// Bytes on the wire, as sent (compressed when the server compresses).
	const served = await response
		.request()
		.sizes()
		.then((sizes) => sizes.responseBodySize, () => body.length);
	const path = response.url().replace(origin.replace(/\/$/, ''), '');
	if (type === 'document') {
		// What the HTML carries inline counts as the page's JavaScript and CSS too.
		const html = body.toString('utf8');
		for (const [kind, pattern] of [
			['js', /<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g],
			['css', /<style[^>]*>([\s\S]*?)<\/style>/g],
		] as const) {
			const inline = Buffer.from([...html.matchAll(pattern)].map((match) => match[1]).join(''));
			if (inline.length > 0) assets.push(measure(`${path} (inline)`, kind, inline, inline.length));
		}
		return;
	}
	assets.push(measure(path, type === 'script' ? 'js' : 'css', body, served));
}

function measure(path: string, kind: Kind, body: Buffer, servedBytes: number): Asset {
	return { path, kind, rawBytes: body.length, gzipBytes: gzipSync(body, { level: 6 }).length, servedBytes };
}

/** One line per kind; returns the gzip KB of each kind. */
function report(
	context: BenchContext,
	target: string,
	name: (kind: Kind) => string,
	page: string,
	phase: Phase,
	assets: readonly Asset[],
	extra: Record<string, unknown> = {},
): Record<Kind, number> {
	const totals = { js: 0, css: 0 };
	for (const kind of KINDS) {
		const files = assets.filter((asset) => asset.kind === kind);
		const sum = (key: 'rawBytes' | 'gzipBytes' | 'servedBytes') => files.reduce((total, asset) => total + asset[key], 0) / 1000;
		totals[kind] = sum('gzipBytes');
		context.report.add({
			bench: 'page-weight',
			target,
			case: name(kind),
			kind,
			phase,
			n: files.length,
			p50: null,
			p99: null,
			unit: 'KB gzip',
			value: sum('gzipBytes'),
			rawKB: sum('rawBytes'),
			servedKB: sum('servedBytes'),
			page,
			...extra,
			files: files.map((asset) => ({ path: asset.path, rawKB: asset.rawBytes / 1000, gzipKB: asset.gzipBytes / 1000 })),
		});
	}
	return totals;
}

/** podlab's share: what the chapter loads (before the first Run, or up to the end of it) above the plain page. */
function above(context: BenchContext, phase: Phase, chapter: string, podlab: Record<Kind, number>, plain: Record<Kind, number>): void {
	for (const kind of KINDS) {
		context.report.add({
			bench: 'page-weight',
			target: 'podlab',
			case: aboveCaseName(kind, phase),
			kind,
			phase,
			aboveStarlight: true,
			n: 1,
			p50: null,
			p99: null,
			unit: 'KB gzip',
			value: podlab[kind] - plain[kind],
			podlabKB: podlab[kind],
			starlightKB: plain[kind],
			page: chapter,
			plainPage: PLAIN_PAGE,
		});
	}
}
