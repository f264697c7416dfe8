/**
 * Benchmark 5, page weight: the JavaScript and CSS a chapter page loads in Chromium before any Run,
 * and what the first Run adds (the terminal: xterm.js, its addons and styles). Sizes are of the
 * response bodies, raw and gzip-compressed (zlib level 6, as web servers commonly use); `servedKB`
 * is what the gateway actually sent over the wire (equal to `rawKB` when it does not compress).
 * Inline <script> and <style> in the HTML count too. KB = 1000 bytes.
 */
import { gzipSync } from 'node:zlib';
import type { Response } from 'playwright-core';
import { RUN_ATTRIBUTES } from '../src/terminal/run-request.ts';
import { browserUnavailable, launchBrowser, newReader } from './lib/browser.ts';
import type { Benchmark, BenchContext } from './lib/context.ts';
import { startPodlab } from './lib/podlab.ts';
import { pagePaths, siteUnavailable } from './lib/site.ts';

type Kind = 'js' | 'css';

interface Asset {
	path: string;
	kind: Kind;
	rawBytes: number;
	gzipBytes: number;
	servedBytes: number;
}

export const pageWeight: Benchmark = {
	name: 'page-weight',
	description: 'Chromium: JS and CSS of a chapter page before the first Run and loaded by it (gzip)',
	async run(context) {
		const chapter = siteUnavailable() ? undefined : pagePaths('chapters')[0];
		const why = siteUnavailable() ?? browserUnavailable() ?? (chapter ? null : 'no chapter page in dist/chapters/');
		if (why || !chapter) {
			context.progress.step('page-weight', `skipped: ${why}`);
			for (const [kind, phase] of [['js', 'before'], ['css', 'before'], ['js', 'run'], ['css', 'run']] as const) {
				context.report.add({ bench: 'page-weight', target: 'podlab', case: caseName(kind, phase), kind, phase, n: 0, p50: null, p99: null, unit: 'KB gzip', skipped: why ?? '' });
			}
			return;
		}
		const gateway = await startPodlab({ cleanup: context.cleanup });
		const browser = await launchBrowser(context.cleanup);
		const reader = await newReader(browser);
		context.cleanup.defer('browser context', () => reader.close());
		const page = await reader.newPage();
		const assets: Asset[] = [];
		const pending: Array<Promise<void>> = [];
		page.on('response', (response) => pending.push(collect(response, gateway.url, assets)));

		context.progress.step('page-weight', `loading ${chapter} as a new reader`);
		await page.goto(new URL(chapter, gateway.url).href, { waitUntil: 'networkidle' });
		await Promise.all(pending);
		const before = [...assets];
		report(context, chapter, 'before', before);

		const run = page.locator(`button[${RUN_ATTRIBUTES.action}="run"]:visible`).first();
		if ((await run.count()) === 0) {
			for (const kind of ['js', 'css'] as const) {
				context.report.add({ bench: 'page-weight', target: 'podlab', case: caseName(kind, 'run'), kind, phase: 'run', n: 0, p50: null, p99: null, unit: 'KB gzip', skipped: `no Run button on ${chapter}` });
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
		await Promise.all(pending);
		report(context, chapter, 'run', assets.slice(before.length));
	},
};

function caseName(kind: Kind, phase: 'before' | 'run'): string {
	return `${kind === 'js' ? 'JavaScript' : 'CSS'} ${phase === 'before' ? 'before the first Run' : 'loaded by the first Run'}`;
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

function report(context: BenchContext, chapter: string, phase: 'before' | 'run', assets: readonly Asset[]): void {
	for (const kind of ['js', 'css'] as const) {
		const files = assets.filter((asset) => asset.kind === kind);
		const sum = (key: 'rawBytes' | 'gzipBytes' | 'servedBytes') => files.reduce((total, asset) => total + asset[key], 0) / 1000;
		context.report.add({
			bench: 'page-weight',
			target: 'podlab',
			case: caseName(kind, phase),
			kind,
			phase,
			n: files.length,
			p50: null,
			p99: null,
			unit: 'KB gzip',
			value: sum('gzipBytes'),
			rawKB: sum('rawBytes'),
			servedKB: sum('servedBytes'),
			page: chapter,
			files: files.map((asset) => ({ path: asset.path, rawKB: asset.rawBytes / 1000, gzipKB: asset.gzipBytes / 1000 })),
		});
	}
}
