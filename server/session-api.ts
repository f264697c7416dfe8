/**
 * `GET /api/session`: the caller's session — their terminals, and in local mode a new reader (with its
 * cookie) when they have none.
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
import type { SessionResponse } from '../src/protocol.ts';
import type { ClassApi } from './class/class-api.ts';
import type { Config } from './config.ts';
import { isHttps, sendError, sendJson } from './http-util.ts';
import { singleHeader, type OriginPolicy } from './origin-check.ts';
import type { Reader, ReaderRegistry } from './readers.ts';

export const READER_COOKIE = 'podlab_reader';

export interface SessionApiOptions {
	config: Pick<Config, 'mode' | 'trustProxy'>;
	policy: OriginPolicy;
	readers: ReaderRegistry;
	/** Class mode: students join instead of getting a reader here. */
	classApi: ClassApi | null;
	/** The caller's reader, if their cookie names one. */
	readerFor(req: IncomingMessage): Reader | undefined;
}

/** Answers `GET /api/session`. */
export function serveSession(req: IncomingMessage, res: ServerResponse, options: SessionApiOptions): void {
	const { config, policy, readers, classApi } = options;
	// A foreign page may not even mint a session (the browser would store the cookie).
	if (policy.originOf(req) === 'refused') return sendError(res, 'LAB_ERR_ORIGIN');
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
