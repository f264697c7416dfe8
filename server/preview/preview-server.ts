/**
 * The preview listener: a lab's web pages in the reader's browser, on origins that are not the
 * site's (preview-origin.ts). It serves nothing of its own but the entry path and a few error pages;
 * every other request is a lab's, checked in this order:
 *
 * 1. the Host names a preview (a label), else 404: no DNS-rebound name gets anything;
 * 2. the entry link (`/.podlab/enter?token=…`, one use, a minute) sets the preview's cookie;
 * 3. the cookie's reader and port derive this very label, else 403: a pass opens one preview only;
 * 4. the request comes from the preview's own pages or is a plain navigation, else 403: no other
 *    origin (another reader's preview included) can fetch it with the cookie or open its WebSockets;
 * 5. the reader still has their session (and seat), their connections and bytes are within bounds;
 * 6. then the backend opens the lab's port, and preview-proxy.ts carries the request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { singleHeader } from '../origin-check.ts';
import type { PreviewOrigin } from './preview-origin.ts';
import { sendPreviewPage } from './preview-page.ts';
import { ENTRY_PATH, type PreviewGrant, type PreviewPasses } from './preview-passes.ts';
import { PreviewLimits, type PreviewLimitSettings } from './preview-limits.ts';
import { proxyRequest, proxyUpgrade } from './preview-proxy.ts';

export interface PreviewServerOptions {
	/** The previews' origin (known once the listener listens, when it names the port). */
	origin(): PreviewOrigin;
	passes: PreviewPasses;
	/** Connects to the port in the reader's lab (the backend's `openPort`). */
	openPort(reader: string, port: number): Promise<Duplex>;
	/** Whether `reader` (a label) may still preview: their session is alive, their seat taken. */
	isReader(reader: string): boolean;
	limits: PreviewLimitSettings & {
		/** A connection with nothing moving this long is closed. */
		idleMs: number;
	};
	logger: Logger;
}

export interface PreviewServer {
	readonly server: Server;
	readonly limits: PreviewLimits;
}

export function createPreviewServer(options: PreviewServerOptions): PreviewServer {
	const { passes, logger } = options;
	const limits = new PreviewLimits(options.limits);
	const server = createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 60_000, headersTimeout: 20_000 });
	server.timeout = options.limits.idleMs;
	server.keepAliveTimeout = 5_000;

	/** Steps 1, 3 and 5 (the Host, the cookie, the reader): the grant, or the answer that refuses it. */
	function admit(req: IncomingMessage, label: string): PreviewGrant | { status: number; title: string; message: string } {
		const origin = options.origin();
		const grant = passes.fromCookie(req.headers.cookie);
		if (!grant || origin.labelFor(grant.reader, grant.port) !== label) {
			return { status: 403, title: 'Open this preview from the tutorial', message: 'A lab’s preview opens only for its reader: use “Open in browser” next to the block, or the terminal panel’s Open a port. A preview link cannot be shared.' };
		}
		if (!options.isReader(grant.reader)) {
			return { status: 403, title: 'Your session has ended', message: 'Open the tutorial again, run a block to get your lab back, then open the preview from the page.' };
		}
		if (limits.spent(grant.reader)) {
			return { status: 429, title: 'Too much traffic', message: 'Your previews moved as many bytes as they may in a minute: wait a minute and reload.' };
		}
		return grant;
	}

	server.on('request', (req: IncomingMessage, res: ServerResponse) => {
		const origin = options.origin();
		const label = origin.labelOfHost(singleHeader(req, 'host') ?? undefined);
		if (!label) return sendPreviewPage(res, 404, 'Not a preview address', 'This address serves podlab’s lab previews only.');
		const url = new URL(req.url ?? '/', 'http://preview');
		if (url.pathname === ENTRY_PATH) return enter(req, res, label, url);
		const admitted = admit(req, label);
		if ('status' in admitted) return sendPreviewPage(res, admitted.status, admitted.title, admitted.message);
		if (!fromOwnPageOrNavigation(req, origin.originOf(label))) {
			return sendPreviewPage(res, 403, 'Refused', 'Another site’s page asked for this preview; only the preview’s own pages may.');
		}
		const release = limits.connect(admitted.reader);
		if (!release) return sendPreviewPage(res, 429, 'Too many connections', 'Your previews have as many connections open as they may: close some tabs of them, then reload.');
		const spend = (bytes: number) => limits.spend(admitted.reader, bytes);
		options.openPort(admitted.reader, admitted.port).then(
			(lab) => {
				if (res.destroyed) {
					lab.destroy();
					return release();
				}
				proxyRequest(req, res, lab, spend, (failure) => {
					logger.info({ reader: admitted.reader, port: admitted.port, reason: failure.reason }, 'preview: the lab gave no answer');
					if (failure.reason === 'timeout') sendPreviewPage(res, 504, 'The lab did not answer', `Port ${admitted.port} in your lab took too long to answer.`);
					else sendPreviewPage(res, 502, `Nothing answers on port ${admitted.port}`, `Nothing in your lab answered on port ${admitted.port} (${failure.detail.slice(0, 200)}). Start the server (it must listen on 127.0.0.1 or all addresses), then reload.`);
				}, release);
			},
			(error: Error) => {
				release();
				logger.info({ reader: admitted.reader, port: admitted.port, err: error }, 'preview: cannot reach the lab');
				sendPreviewPage(res, 502, 'Your lab cannot be reached', `${error.message.slice(0, 300)} Try again in a moment.`);
			},
		);
	});

	function enter(req: IncomingMessage, res: ServerResponse, label: string, url: URL): void {
		const origin = options.origin();
		const grant = passes.takeEntry(url.searchParams.get('token'));
		if (grant === 'used') return sendPreviewPage(res, 403, 'This link was used already', 'A preview link opens once: open the preview again from the tutorial’s page.');
		if (!grant || origin.labelFor(grant.reader, grant.port) !== label) return sendPreviewPage(res, 403, 'Not a valid preview link', 'Open the preview from the tutorial’s page (its links work once, for a minute).');
		const to = url.searchParams.get('to') ?? '/';
		res.writeHead(303, { 'Set-Cookie': passes.cookie(grant, origin.secure), Location: isLocalPath(to) ? to : '/', 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' });
		res.end();
	}

	server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
		socket.on('error', () => socket.destroy());
		const refuse = (status: number, reason: string) => socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
		const origin = options.origin();
		const label = origin.labelOfHost(singleHeader(req, 'host') ?? undefined);
		if (!label) return refuse(404, 'Not Found');
		const admitted = admit(req, label);
		if ('status' in admitted) return refuse(admitted.status, 'Refused');
		// Browsers always send Origin with a WebSocket: only the preview's own pages may open one.
		if (singleHeader(req, 'origin') !== origin.originOf(label)) return refuse(403, 'Forbidden');
		const release = limits.connect(admitted.reader);
		if (!release) return refuse(429, 'Too Many Requests');
		options.openPort(admitted.reader, admitted.port).then(
			(lab) => proxyUpgrade(req, socket, head, lab, (bytes) => limits.spend(admitted.reader, bytes), options.limits.idleMs, release),
			() => {
				release();
				refuse(502, 'Bad Gateway');
			},
		);
	});
	return { server, limits };
}

/**
 * Fetch metadata (Sec-Fetch-*) or, from browsers without it, Origin: the preview's own pages, a
 * typed address, or a GET navigation (a link followed from anywhere) — nothing else.
 */
function fromOwnPageOrNavigation(req: IncomingMessage, ownOrigin: string): boolean {
	const site = req.headers['sec-fetch-site'];
	if (site === 'same-origin' || site === 'none') return true;
	if (req.headers['sec-fetch-mode'] === 'navigate' && req.method === 'GET') return true;
	if (site !== undefined) return false;
	const requestOrigin = singleHeader(req, 'origin');
	return requestOrigin === undefined ? req.method === 'GET' || req.method === 'HEAD' : requestOrigin === ownOrigin;
}

/** A path on this origin ("/x?y"), not another origin ("//evil", "https://…", "/\\evil"). */
function isLocalPath(path: string): boolean {
	return path.length <= 2000 && path.startsWith('/') && !path.startsWith('//') && !path.startsWith('/\\') && !/[\r\n]/.test(path);
}
