/**
 * The gateway's HTTP routes as a table: each says its method, its path and its handler, and the first
 * that matches a request answers it (request-handler.ts runs the checks every request passes first).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface Route {
	/** The method it answers; `*` for any, when the handler answers each method itself. */
	method: 'GET' | 'POST' | '*';
	/** The exact path, or every path under a folder when it ends with `/*` (`/api/instructor/*`). */
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
	return path.endsWith('/*') ? pathname.startsWith(path.slice(0, -1)) : pathname === path;
}
