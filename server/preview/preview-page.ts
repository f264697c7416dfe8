/**
 * The few pages podlab itself answers about a preview (a link used twice, nothing listening in the
 * lab, too many connections): plain HTML, one sentence of what happened and what to do, no script.
 */
import type { ServerResponse } from 'node:http';

const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

function escapeHtml(text: string): string {
	return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** Answers `status` with a page saying `message`. */
export function sendPreviewPage(res: ServerResponse, status: number, title: string, message: string): void {
	const body = `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)} · podlab</title><style>body{font:1.05rem/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}h1{font-size:1.3rem}</style><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></html>`;
	res.writeHead(status, {
		'Content-Type': 'text/html; charset=utf-8',
		'Content-Length': Buffer.byteLength(body),
		'Content-Security-Policy': PAGE_CSP,
		'Cache-Control': 'no-store',
		'X-Content-Type-Options': 'nosniff',
	});
	res.end(body);
}
