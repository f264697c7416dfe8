/**
 * The gateway's endpoints, and how pages ask them for JSON. The gateway serves the site, /api and
 * /ws on one origin; they are resolved against the site's base path so a site published under a
 * prefix (behind a reverse proxy) still finds its gateway.
 */
const base = import.meta.env.BASE_URL.endsWith('/') ? import.meta.env.BASE_URL : `${import.meta.env.BASE_URL}/`;

/** URL of an /api endpoint, e.g. `apiUrl('session')`. */
export function apiUrl(endpoint: 'session' | 'lab' | 'lab/reset' | 'health' | 'results'): string {
	return `${base}api/${endpoint}`;
}

/** URL of a file of the site itself, e.g. `siteUrl('chapters/pause/')`. */
export function siteUrl(path: string): string {
	return `${base}${path}`;
}

/** URL of an instructor API endpoint, e.g. `instructorApiUrl('events')`. */
export function instructorApiUrl(path: string): string {
	return `${base}api/instructor/${path}`;
}

/** The WebSocket URL, ws:// or wss:// after the page's own scheme. */
export function socketUrl(): string {
	const url = new URL(`${base}ws`, location.href);
	url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
	return url.href;
}

export interface JsonAnswer {
	status: number;
	ok: boolean;
	/** The parsed body; undefined when it does not parse. Not validated: that is the caller's. */
	body: unknown;
}

/**
 * Asks for JSON, same origin (fetch's default), with a time limit. The answer, or null when nothing
 * answered within `timeoutMs` or the answer is not JSON (a static host may answer an unknown path
 * with its index page). Never throws.
 */
export async function fetchJson(url: string, timeoutMs: number, method: 'GET' | 'POST' = 'GET'): Promise<JsonAnswer | null> {
	try {
		const response = await fetch(url, { method, headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
		if (!(response.headers.get('content-type') ?? '').includes('application/json')) return null;
		return { status: response.status, ok: response.ok, body: await response.json().catch(() => undefined) };
	} catch {
		return null;
	}
}

/** The body of a successful JSON answer (see {@link fetchJson}), else null. Never throws. */
export async function getJson(url: string, timeoutMs: number): Promise<unknown> {
	const answer = await fetchJson(url, timeoutMs);
	return answer?.ok ? answer.body : null;
}

/** The gateway's answer to `GET /api/lab` on this page, once one came. */
let labAnswer: unknown = null;

/**
 * `GET /api/lab`'s body (not validated: that is the caller's), or null when nothing answered within
 * `timeoutMs`. Once the gateway has answered, later callers on the page get that answer: the lab tabs
 * ask at page load, and the panel reuses it on the first Run. No answer is not kept: the next caller
 * asks again (the gateway may be up by then). Callers at the same moment each ask.
 */
export async function getLab(timeoutMs: number): Promise<unknown> {
	return (labAnswer ??= await getJson(apiUrl('lab'), timeoutMs));
}
