/**
 * Carries one request (or one WebSocket) between a reader's browser and a stream to their lab's
 * port. The lab's answer is untrusted: its head is parsed by Node's strict parser with a size bound
 * and a deadline, podlab's own cookies never reach the lab and the lab cannot set them, and every
 * byte either way is counted against the reader's budget (`meter`) with backpressure end to end.
 * Text a lab serves without a charset is labelled UTF-8: nearly every page a lab makes is, and a
 * browser's guess for a short unlabelled page (windows-1252) turns the sidecar's 鹿乃 into é¹¿ä¹ƒ.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { Transform, pipeline, type Duplex } from 'node:stream';

/** Largest response head a lab may send. */
export const LAB_HEAD_BYTES = 16 * 1024;
/** How long a lab may take to start its answer. */
export const LAB_ANSWER_MS = 30_000;

/** Headers of one hop only (RFC 9110 §7.6.1): never passed on. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** podlab's cookies (the preview's pass, and on a shared host name the site's): never shown to a lab, never set by one. */
const isPodlabCookie = (name: string) => name.trim().toLowerCase().startsWith('podlab_');

/** The request's Cookie header without podlab's cookies, or undefined when nothing is left. */
export function labCookieHeader(header: string | undefined): string | undefined {
	const kept = (header ?? '').split(';').filter((pair) => pair.trim() !== '' && !isPodlabCookie(pair.split('=', 1)[0]!));
	return kept.length > 0 ? kept.join(';').trim() : undefined;
}

function requestHeadersForLab(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
	const out: OutgoingHttpHeaders = {};
	for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name) && name !== 'cookie') out[name] = value;
	const cookie = labCookieHeader(headers.cookie);
	if (cookie) out.cookie = cookie;
	// One stream per request: the lab closes the connection after answering.
	out.connection = 'close';
	return out;
}

function responseHeadersFromLab(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
	const out: OutgoingHttpHeaders = {};
	for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name) && name !== 'set-cookie') out[name] = value;
	const cookies = (headers['set-cookie'] ?? []).filter((line) => !isPodlabCookie(line.split('=', 1)[0]!));
	if (cookies.length > 0) out['set-cookie'] = cookies;
	const type = headers['content-type'];
	if (type && /^text\/(html|plain)\s*(;|$)/i.test(type) && !/;\s*charset=/i.test(type)) out['content-type'] = `${type.replace(/;\s*$/, '')}; charset=utf-8`;
	return out;
}

/** A pass-through that counts bytes; `spend` false ends the connection. */
export function meter(spend: (bytes: number) => boolean): Transform {
	return new Transform({
		transform(chunk: Buffer, _encoding, callback) {
			if (spend(chunk.length)) callback(null, chunk);
			else callback(new Error('preview byte budget spent'));
		},
	});
}

export interface ProxyFailure {
	/** What went wrong, for the page and the log: the lab did not answer in time, or not as HTTP. */
	reason: 'timeout' | 'broken';
	detail: string;
}

/**
 * Sends `req` to the lab over `lab` and its answer back to `res`. `failed` is called when no answer
 * could be given (nothing was sent to the browser yet); `done` once everything is over either way.
 */
export function proxyRequest(req: IncomingMessage, res: ServerResponse, lab: Duplex, spend: (bytes: number) => boolean, failed: (failure: ProxyFailure) => void, done: () => void): void {
	let answered = false;
	const upstream = httpRequest({
		method: req.method,
		path: req.url,
		headers: requestHeadersForLab(req.headers),
		setHost: false,
		createConnection: () => lab as never,
		maxHeaderSize: LAB_HEAD_BYTES,
	});
	const fail = (failure: ProxyFailure) => {
		clearTimeout(deadline);
		if (answered) return;
		answered = true;
		failed(failure);
	};
	// A timer of its own: http's `timeout` option would call setTimeout on the lab's stream, which is no socket.
	const deadline = setTimeout(() => {
		fail({ reason: 'timeout', detail: `no answer in ${LAB_ANSWER_MS / 1000} s` });
		upstream.destroy();
	}, LAB_ANSWER_MS);
	upstream.once('error', (error) => {
		const stderr = (lab as Duplex & { stderr?: string }).stderr?.trim();
		fail({ reason: 'broken', detail: stderr || error.message });
	});
	upstream.once('response', (answer) => {
		clearTimeout(deadline);
		if (answered) return answer.destroy();
		answered = true;
		res.writeHead(answer.statusCode ?? 502, answer.statusMessage, responseHeadersFromLab(answer.headers));
		pipeline(answer, meter(spend), res, () => {});
	});
	// Not pipeline(): it would destroy the request, and with it the socket the error page goes out on.
	const body = meter(spend);
	body.once('error', () => res.destroy());
	req.pipe(body).pipe(upstream);
	res.once('close', () => {
		clearTimeout(deadline);
		lab.destroy();
		done();
	});
}

/**
 * Passes a WebSocket upgrade (or any other) to the lab: its request head, rebuilt from the parsed
 * one without podlab's cookies, then bytes both ways until either side ends or stays idle `idleMs`.
 */
export function proxyUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, lab: Duplex, spend: (bytes: number) => boolean, idleMs: number, done: () => void): void {
	const lines = [`${req.method} ${req.url} HTTP/1.1`];
	for (let index = 0; index < req.rawHeaders.length; index += 2) {
		const name = req.rawHeaders[index]!;
		if (name.toLowerCase() === 'cookie') continue;
		lines.push(`${name}: ${req.rawHeaders[index + 1]}`);
	}
	const cookie = labCookieHeader(req.headers.cookie);
	if (cookie) lines.push(`Cookie: ${cookie}`);
	lab.write(`${lines.join('\r\n')}\r\n\r\n`);
	if (head.length > 0) lab.write(head);
	const idle = () => {
		socket.destroy();
		lab.destroy();
	};
	if ('setTimeout' in socket && typeof socket.setTimeout === 'function') (socket as Duplex & { setTimeout(ms: number, listener: () => void): void }).setTimeout(idleMs, idle);
	let finished = false;
	const end = () => {
		if (finished) return;
		finished = true;
		socket.destroy();
		lab.destroy();
		done();
	};
	pipeline(socket, meter(spend), lab, end);
	pipeline(lab, meter(spend), socket, end);
}
