/**
 * Every HTTP request to the gateway: the security headers on every answer, the Host check, the Origin
 * check for requests that change something, then the first route of the table that matches (router.ts),
 * the built site, or a 404 with its code.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { API_CSP } from '../csp.ts';
import { isHttps, sendError } from '../http-util.ts';
import type { OriginPolicy } from '../origin-check.ts';
import type { StaticHandler } from '../static-site.ts';
import { findRoute, needsOwnOrigin, type Route } from './router.ts';

/** Headers on every response: no framing, no sniffing, no referrer leaks. CSP: see csp.ts. */
export const SECURITY_HEADERS = {
	'X-Content-Type-Options': 'nosniff',
	'Referrer-Policy': 'same-origin',
	'X-Frame-Options': 'DENY',
};

export interface RequestHandlerOptions {
	routes: readonly Route[];
	/** The Host and Origin checks, known once the server listens (they name its port). */
	policy(): OriginPolicy;
	/** The built site, or null: then only the routes answer. */
	site: StaticHandler | null;
	/** Whether X-Forwarded-Proto is believed (PODLAB_TRUST_PROXY), for HSTS. */
	trustProxy: boolean;
	logger: Logger;
}

/** The `request` listener of the gateway's HTTP server. */
export function createRequestHandler(options: RequestHandlerOptions): (req: IncomingMessage, res: ServerResponse) => void {
	const { routes, site, trustProxy, logger } = options;

	function handleRequest(req: IncomingMessage, res: ServerResponse): void {
		const { pathname } = new URL(req.url ?? '/', 'http://gateway');
		// The site's pages replace it with their own (static-site.ts); API answers keep it.
		res.setHeader('Content-Security-Policy', API_CSP);
		const policy = options.policy();
		if (!policy.isRequestHostAllowed(req)) return sendError(res, 'LAB_ERR_HOST');
		const route = findRoute(routes, req.method, pathname);
		if (needsOwnOrigin(route, req.method, pathname) && policy.originOf(req) === 'refused') return sendError(res, 'LAB_ERR_ORIGIN');
		if (route) return route.handle(req, res, pathname);
		if (pathname.startsWith('/api/') || !site) return sendError(res, 'LAB_ERR_NOT_FOUND');
		site(req, res, (error) => {
			if (error) logger.warn({ err: error, path: pathname }, 'static file failed');
			if (!res.headersSent) sendError(res, 'LAB_ERR_NOT_FOUND');
			else res.destroy();
		});
	}

	return (req, res) => {
		for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
		if (isHttps(req, trustProxy)) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
		try {
			handleRequest(req, res);
		} catch (error) {
			logger.error({ err: error, path: req.url }, 'request failed');
			if (!res.headersSent) sendError(res, 'LAB_ERR_INTERNAL');
		}
	};
}
