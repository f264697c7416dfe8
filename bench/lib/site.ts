/**
 * The built site (dist/) as the browser benchmarks need it: whether it exists, and which pages have
 * what they measure. Pages are found in the built HTML, so the benchmarks follow the content.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RUN_ATTRIBUTES } from '../../src/terminal/page/run-request.ts';

export const SITE_DIR = fileURLToPath(new URL('../../dist/', import.meta.url));

/** Why the browser benchmarks cannot run, or null when the site is built. */
export function siteUnavailable(): string | null {
	return existsSync(join(SITE_DIR, 'index.html')) ? null : 'no built site: dist/index.html is missing (run `npm run build` first)';
}

/** URL paths ("/chapters/namespaces/") of the built pages under `under` ("" for all), sorted. */
export function pagePaths(under = ''): string[] {
	const root = join(SITE_DIR, under);
	if (!existsSync(root)) return [];
	const found: string[] = [];
	const walk = (dir: string) => {
		for (const entry of readdirSync(dir, { withFileTypes: true })) {
			const path = join(dir, entry.name);
			if (entry.isDirectory()) walk(path);
			else if (entry.name === 'index.html') found.push(`/${relative(SITE_DIR, dir).split(sep).join('/')}/`.replace(/^\/\/$/, '/'));
		}
	};
	walk(root);
	return found.sort();
}

/** A block with a Run button in the built site: the page it is on and its block id. */
export interface RunBlock {
	path: string;
	block: string;
}

/** The first page with a Run button for exactly `code`, and the button's block id. */
export function findRunBlock(code: string): RunBlock | null {
	const escaped = code.replaceAll('&', '&amp;').replaceAll('"', '&quot;');
	const pattern = new RegExp(`<button[^>]*${RUN_ATTRIBUTES.action}="run"[^>]*${RUN_ATTRIBUTES.code}="${escapeRegExp(escaped)}"[^>]*${RUN_ATTRIBUTES.block}="([^"]+)"`);
	for (const path of pagePaths()) {
		const match = pattern.exec(readFileSync(join(SITE_DIR, path, 'index.html'), 'utf8'));
		if (match) return { path, block: match[1]! };
	}
	return null;
}

function escapeRegExp(text: string): string {
	return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
