/**
 * The built site, served from disk with serve-static: ETags, Last-Modified, caching headers, and
 * errors passed on instead of thrown (a file deleted by a rebuild mid-request is a 404, not a
 * crash). Each HTML page gets its CSP (csp.ts), computed when the file changes, so a rebuild under
 * a running gateway is picked up.
 *
 * Compressed for browsers that accept it (the `compression` middleware: brotli, else gzip), off the
 * event loop in zlib's threads: xterm.js is 335 KB as built, 88 KB in brotli, 84 KB in gzip. The API and the
 * terminal socket are not part of this handler and are not compressed.
 */
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { constants as zlib } from 'node:zlib';
import compression from 'compression';
import serveStatic from 'serve-static';
import { ASSET_CSP, pageCsp } from './csp.ts';

export type StaticHandler = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/** One page's policy, as long as the file keeps its modification time and size. */
interface CachedPolicy {
	mtimeMs: number;
	size: number;
	policy: string;
}

export function createStaticSite(siteDir: string): StaticHandler {
	const root = resolve(siteDir);
	const policies = new Map<string, CachedPolicy>();
	const files = serveStatic(root, {
		extensions: ['html'],
		index: ['index.html'],
		// serve-static calls this before it decides on a 304, so a revalidation carries the CSP too.
		setHeaders(res, path, stat) {
			res.setHeader('Cache-Control', path.includes('/_astro/') ? 'public, max-age=31536000, immutable' : 'no-cache');
			if (!path.endsWith('.html')) {
				res.setHeader('Content-Security-Policy', ASSET_CSP);
				return;
			}
			const cached = policies.get(path);
			if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) {
				res.setHeader('Content-Security-Policy', cached.policy);
			}
		},
	});
	// Brotli at quality 3 (xterm.js: 88 KB in 4 ms on this machine; quality 5 is 79 KB in 11 ms, per reader on a
	// cold cache); gzip at its default level for browsers that send no `br` (Chromium over plain http to a LAN address).
	const compress = compression({ brotli: { params: { [zlib.BROTLI_PARAM_QUALITY]: 3 } } }) as unknown as StaticHandler;
	return (req, res, next) =>
		compress(req, res, () => {
			// The hashes come from the file's text, so they must be ready before serve-static sends it.
			void refreshPolicy(root, req.url ?? '/', policies).then(() => files(req, res, next), next);
		});
}

/** Reads the page a request maps to when its policy is missing or stale. */
async function refreshPolicy(root: string, url: string, policies: Map<string, CachedPolicy>): Promise<void> {
	const { pathname } = new URL(url, 'http://site');
	let decoded: string;
	try {
		decoded = decodeURIComponent(pathname);
	} catch {
		return;
	}
	if (decoded.includes('\0') || decoded.split('/').includes('..')) return;
	for (const candidate of [`${decoded}index.html`, `${decoded}.html`, decoded]) {
		if (!candidate.endsWith('.html')) continue;
		const path = join(root, candidate);
		let stat;
		try {
			stat = statSync(path);
		} catch {
			continue;
		}
		if (!stat.isFile()) continue;
		const cached = policies.get(path);
		if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return;
		const html = await readFile(path, 'utf8').catch(() => null);
		if (html !== null) policies.set(path, { mtimeMs: stat.mtimeMs, size: stat.size, policy: pageCsp(html) });
		return;
	}
}
