/**
 * The built site, served from disk with serve-static: ETags, Last-Modified, caching headers, and
 * errors passed on instead of thrown (a file deleted by a rebuild mid-request is a 404, not a
 * crash). Each HTML page gets its CSP (csp.ts), computed when the file changes, so a rebuild under
 * a running gateway is picked up.
 *
 * Compressed for browsers that accept it: scripts and styles from the copies the build wrote beside
 * them (scripts/precompress.ts: brotli 11, gzip 9; xterm.js is 335 KB as built, 70 KB in brotli), the
 * rest by the `compression` middleware (brotli 3, else gzip) in zlib's threads. The API and the
 * terminal socket are not part of this handler and are not compressed.
 */
import { statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve } from 'node:path';
import { constants as zlib } from 'node:zlib';
import compression from 'compression';
import Negotiator from 'negotiator';
import serveStatic from 'serve-static';
import { ENCODINGS, PRECOMPRESSED_TYPES } from '../scripts/precompress.ts';
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
	// For what has no copy (pages, and scripts of a build made without them): brotli at quality 3, cheap enough per
	// request (xterm.js: 88 KB in 4 ms on this machine; quality 5 is 79 KB in 11 ms); gzip at its default level for
	// browsers that send no `br` (Chromium over plain http to a LAN address).
	const compress = compression({ brotli: { params: { [zlib.BROTLI_PARAM_QUALITY]: 3 } } }) as unknown as StaticHandler;
	return (req, res, next) =>
		compress(req, res, () => {
			// The hashes come from the file's text, so they must be ready before serve-static sends it.
			const url = req.url ?? '/';
			void Promise.all([refreshPolicy(root, url, policies), usePrecompressed(root, req, res)]).then(() => files(req, res, next), next);
		});
}

/** The path a request names inside the site, or null when it cannot name a file there. */
function sitePath(url: string): { pathname: string; search: string; decoded: string } | null {
	const { pathname, search } = new URL(url, 'http://site');
	let decoded: string;
	try {
		decoded = decodeURIComponent(pathname);
	} catch {
		return null;
	}
	if (decoded.includes('\0') || decoded.split('/').includes('..')) return null;
	return { pathname, search, decoded };
}

/**
 * Points a request for a script or style at its brotli or gzip copy when the browser accepts one and
 * the copy is not older than the file; serve-static then sends that copy with the file's type, and
 * the `compression` middleware leaves a response that already has an encoding alone.
 */
async function usePrecompressed(root: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
	if (req.method !== 'GET' && req.method !== 'HEAD') return;
	const path = sitePath(req.url ?? '/');
	const type = path && PRECOMPRESSED_TYPES[extname(path.decoded)];
	if (!path || !type) return;
	res.setHeader('Vary', 'Accept-Encoding');
	const accepted = new Negotiator(req).encodings(ENCODINGS.map((each) => each.encoding));
	const file = join(root, path.decoded);
	const original = accepted.length > 0 ? await stat(file).catch(() => null) : null;
	if (!original?.isFile()) return;
	for (const { encoding, suffix } of ENCODINGS) {
		if (!accepted.includes(encoding)) continue;
		const copy = await stat(file + suffix).catch(() => null);
		if (!copy?.isFile() || copy.mtimeMs < original.mtimeMs) continue;
		req.url = path.pathname + suffix + path.search;
		res.setHeader('Content-Encoding', encoding);
		res.setHeader('Content-Type', type);
		return;
	}
}

/** Reads the page a request maps to when its policy is missing or stale. */
async function refreshPolicy(root: string, url: string, policies: Map<string, CachedPolicy>): Promise<void> {
	const decoded = sitePath(url)?.decoded;
	if (decoded === undefined) return;
	for (const candidate of [`${decoded}index.html`, `${decoded}.html`, decoded]) {
		if (!candidate.endsWith('.html')) continue;
		const path = join(root, candidate);
		let info;
		try {
			info = statSync(path);
		} catch {
			continue;
		}
		if (!info.isFile()) continue;
		const cached = policies.get(path);
		if (cached && cached.mtimeMs === info.mtimeMs && cached.size === info.size) return;
		const html = await readFile(path, 'utf8').catch(() => null);
		if (html !== null) policies.set(path, { mtimeMs: info.mtimeMs, size: info.size, policy: pageCsp(html) });
		return;
	}
}
