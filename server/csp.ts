/**
 * Content-Security-Policy for the built site. Starlight pages carry small inline scripts (theme,
 * initial state); instead of allowing every inline script ('unsafe-inline'), the gateway hashes the
 * inline scripts of each HTML file once at startup and allows exactly those on that page. Styles
 * keep 'unsafe-inline': the pages and xterm.js set style attributes, which hashes cannot cover, and
 * a style cannot run code.
 */
import { createHash } from 'node:crypto';

/** Everything but the page's scripts; `'wasm-unsafe-eval'` lets Pagefind's search index run (no JS eval). */
const PAGE_DIRECTIVES = [
	"default-src 'self'",
	"style-src 'self' 'unsafe-inline'",
	"img-src 'self' data:",
	"font-src 'self' data:",
	"connect-src 'self'",
	"object-src 'none'",
	"base-uri 'self'",
	"form-action 'self'",
	"frame-ancestors 'none'",
];

/** For API answers and errors: nothing may load or frame them. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * For the site's other files. It matters for one kind: a worker script's CSP is its own response's
 * (Pagefind's search runs in a worker that fetches its index and compiles WebAssembly).
 */
export const ASSET_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; object-src 'none'; frame-ancestors 'none'";

/** The inline scripts of an HTML document, as the browser hashes them (the exact text between the tags). */
export function inlineScripts(html: string): string[] {
	const scripts: string[] = [];
	for (const match of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
		if (/\bsrc\s*=/i.test(match[1]!)) continue;
		scripts.push(match[2]!);
	}
	return scripts;
}

export function pageCsp(html: string): string {
	const hashes = [...new Set(inlineScripts(html).map((script) => `'sha256-${createHash('sha256').update(script).digest('base64')}'`))];
	return [`script-src 'self' 'wasm-unsafe-eval' ${hashes.join(' ')}`.trimEnd(), ...PAGE_DIRECTIVES].join('; ');
}
