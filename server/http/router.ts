/**
 * The gateway's HTTP routes as a table: each says its method, its path and its handler, and the first
 * that matches a request answers it (request-handler.ts runs the checks every request passes first).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface Route {
	/** The method it answers; `*` for any, when the handler answers each method itself. */
	method: 'GET' | 'POST' | '*';
	/** The path (see {@link matchPath}), or every path under a folder when it ends with `/*` (`/api/instructor/*`). */
	path: string;
	/**
	 * Whether a request that changes something (not GET or HEAD) under `/api/` is answered whatever its
	 * Origin: the route changes nothing, or checks the Origin itself.
	 * @default false
	 */
	anyOrigin?: boolean;
	handle(req: IncomingMessage, res: ServerResponse, pathname: string): void;
}

/** The first route of the table for this method and path, or undefined. */
export function findRoute(routes: readonly Route[], method: string | undefined, pathname: string): Route | undefined {
	return routes.find((route) => (route.method === '*' || route.method === method) && pathMatches(route.path, pathname));
}

/**
 * Whether the request must come from one of our own pages: requests that change something under
 * `/api/` (join, sign in, broadcast, end a student) do, unless their route says otherwise, and so do
 * those to paths no route answers. The cookies are SameSite=Strict as well.
 */
export function needsOwnOrigin(route: Route | undefined, method: string | undefined, pathname: string): boolean {
	return pathname.startsWith('/api/') && method !== 'GET' && method !== 'HEAD' && !route?.anyOrigin;
}

function pathMatches(path: string, pathname: string): boolean {
	return path.endsWith('/*') ? pathname.startsWith(path.slice(0, -1)) : matchPath(path, pathname) !== null;
}

/**
 * A route's path against a request's: literal text, with `:name` for a part of one segment
 * (`students/:student/transcript.:format`). The parts by name, or null when it does not match.
 */
export function matchPath(pattern: string, pathname: string): Record<string, string> | null {
	const { regex, names } = compiled(pattern);
	const match = regex.exec(pathname);
	return match && Object.fromEntries(names.map((name, index) => [name, match[index + 1]!]));
}

/** Each route's path as a regular expression, made once: the tables are fixed. */
const patterns = new Map<string, { regex: RegExp; names: string[] }>();

function compiled(pattern: string): { regex: RegExp; names: string[] } {
	let known = patterns.get(pattern);
	if (!known) {
		const names: string[] = [];
		const source = pattern
			.split(/(:[a-z]+)/)
			.map((part) => {
				if (!part.startsWith(':')) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
				names.push(part.slice(1));
				return '([^/]+?)';
			})
			.join('');
		known = { regex: new RegExp(`^${source}$`), names };
		patterns.set(pattern, known);
	}
	return known;
}
