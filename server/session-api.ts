/**
 * `GET /api/session`: the caller's session — their terminals, and in local mode a new reader (with its
 * cookie) when they have none.
 *
 * `POST /api/session?start=<terminal>` answers the same and also starts that terminal's shell, without
 * waiting for it: the page sends it on the first Run, so the shell starts while the page is still
 * downloading the terminal's code, and the socket's `attach` finds it running. A shell that no socket
 * attaches to ends after the grace period, like one whose page was closed. Starting one counts against
 * the reader's terminal limit; a failure is logged here and reported to the socket that attaches.
 *
 * A reader is a seat under `PODLAB_MAX_READERS`, so one is issued only to a page of the site itself.
 * Any web page can make a browser send this GET (an `<img src>` sends no Origin), so the request must
 * prove where it comes from with a header no other site can set to the site's value:
 *
 * - `Origin` naming an allowed origin (exactly once), or
 * - `Sec-Fetch-Site: same-origin` (browsers send it to https and loopback addresses), or
 * - a `Referer` on an allowed origin (the site's pages send `Referrer-Policy: same-origin`, so their
 *   own requests carry it, also over plain http to a LAN address where Sec-Fetch-Site is not sent).
 *
 * A request that already holds a reader cookie needs no proof to list its own terminals: the cookie
 * is SameSite=Strict, so another site's page cannot send it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseCookie, stringifySetCookie } from 'cookie';
import { terminalName, type SessionResponse } from '../src/protocol.ts';
import type { ClassApi } from './class/class-api.ts';
import type { Config } from './config.ts';
import type { Logger } from 'pino';
import { isHttps, sendError, sendJson } from './http-util.ts';
import { singleHeader, type OriginPolicy } from './origin-check.ts';
import type { Reader, ReaderRegistry } from './readers.ts';

export const READER_COOKIE = 'podlab_reader';

export interface SessionApiOptions {
	config: Pick<Config, 'mode' | 'trustProxy'>;
	policy: OriginPolicy;
	readers: ReaderRegistry;
	logger: Logger;
	/** Class mode: students join instead of getting a reader here. */
	classApi: ClassApi | null;
	/** The caller's reader, if their cookie names one. */
	readerFor(req: IncomingMessage): Reader | undefined;
}

/** Answers `GET /api/session` and `POST /api/session?start=<terminal>`. */
export function serveSession(req: IncomingMessage, res: ServerResponse, options: SessionApiOptions): void {
	const { config, policy, readers, classApi } = options;
	// A foreign page may not even mint a session (the browser would store the cookie).
	if (policy.originOf(req) === 'refused') return sendError(res, 'LAB_ERR_ORIGIN');
	const start = startRequested(req);
	if (start === 'bad') return sendError(res, 'LAB_ERR_BAD_REQUEST', 'Start a terminal with POST /api/session?start=<name>: 1-24 of a-z, 0-9 and "-", starting with a letter.');
	// Starting a shell is a change: only the site's own pages may ask for one, cookie or not.
	if (start && !comesFromOwnPage(req, policy)) return sendError(res, 'LAB_ERR_ORIGIN');
	res.setHeader('Cache-Control', 'no-store');
	let reader = options.readerFor(req);
	if (!reader && classApi) return sendError(res, 'LAB_ERR_JOIN_REQUIRED');
	if (!reader) {
		if (!comesFromOwnPage(req, policy)) return sendError(res, 'LAB_ERR_ORIGIN');
		const issued = readers.issue();
		if (!issued) return sendError(res, 'LAB_ERR_LAB_FULL');
		reader = issued.reader;
		res.setHeader(
			'Set-Cookie',
			stringifySetCookie({ name: READER_COOKIE, value: issued.id, httpOnly: true, sameSite: 'strict', path: '/', secure: isHttps(req, config.trustProxy) }),
		);
	}
	sendJson(res, 200, {
		mode: config.mode,
		...(classApi ? { student: classApi.studentOf(reader) } : {}),
		terminals: [...reader.terminals.values()].map((terminal) => ({ name: terminal.name, busy: terminal.busy })),
	} satisfies SessionResponse);
	// After the answer is written: a backend may spawn synchronously (node-pty forks in this thread).
	if (start) {
		const { logger } = options;
		readers.openTerminal(reader, start).catch((error: unknown) => logger.info({ reader: reader.label, terminal: start, err: error }, 'terminal not started ahead of its socket'));
	}
}

/** The terminal a POST asks to start, null when none is asked for, 'bad' for a malformed request. */
function startRequested(req: IncomingMessage): string | null | 'bad' {
	const start = new URL(req.url ?? '/', 'http://gateway').searchParams.getAll('start');
	if (req.method === 'POST') return start.length === 1 && terminalName.safeParse(start[0]).success ? start[0]! : 'bad';
	return start.length === 0 && (req.method === 'GET' || req.method === 'HEAD') ? null : 'bad';
}

/** Whether the request shows it was sent by a page of the site (see the module comment). */
export function comesFromOwnPage(req: Pick<IncomingMessage, 'rawHeaders'>, policy: OriginPolicy): boolean {
	if (policy.originOf(req) === 'own') return true;
	if (singleHeader(req, 'sec-fetch-site') === 'same-origin') return true;
	const referer = singleHeader(req, 'referer');
	if (!referer) return false;
	let origin: string;
	try {
		origin = new URL(referer).origin;
	} catch {
		return false;
	}
	return policy.isOriginAllowed(origin);
}

/** The reader id in the request's cookie, if any. */
export function readerId(req: IncomingMessage): string | undefined {
	const header = req.headers.cookie;
	return header ? parseCookie(header)[READER_COOKIE] : undefined;
}
