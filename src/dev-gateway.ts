/**
 * `astro dev` next to a gateway: the dev server serves the pages, and forwards /api and /ws to the
 * gateway at PODLAB_GATEWAY_URL (read once at startup, rejected with a hint when malformed).
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import { z } from 'zod';

/** Default gateway for development: one port above the dev server, which takes 4321. */
export const DEFAULT_DEV_GATEWAY = 'http://127.0.0.1:4322';

const gatewayUrl = z
	.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL, e.g. http://127.0.0.1:4322' })
	.transform((value) => new URL(value))
	.refine((url) => url.pathname === '/' && !url.search && !url.hash, 'must be an origin only, without a path');

/**
 * @param env the process environment
 * @returns the gateway's origin as a URL
 * @throws {Error} naming PODLAB_GATEWAY_URL and what is wrong with it
 */
export function devGatewayUrl(env: Record<string, string | undefined>): URL {
	const value = env.PODLAB_GATEWAY_URL || DEFAULT_DEV_GATEWAY;
	const parsed = gatewayUrl.safeParse(value);
	if (!parsed.success) {
		throw new Error(`PODLAB_GATEWAY_URL="${value}" ${parsed.error.issues[0]?.message}. Unset it to use ${DEFAULT_DEV_GATEWAY}.`);
	}
	return parsed.data;
}

/** The part of Vite's proxy server the dev proxy listens to. */
interface ProxyEvents {
	on(event: 'proxyReq' | 'proxyReqWs', listener: (proxyReq: ClientRequest, req: IncomingMessage) => void): unknown;
}

/**
 * Vite proxy options for /api and /ws.
 *
 * The gateway refuses a terminal to pages of other origins (and to other Host names). The dev
 * server's pages are the gateway's own in all but port, so a request coming from them is presented
 * as the gateway's own: Host by `changeOrigin`, Origin rewritten here. A request from any other
 * origin keeps its Origin, and the gateway refuses it as it would without the proxy.
 *
 * @param gateway the gateway's origin, from {@link devGatewayUrl}
 * @param devOrigins the dev server's own origins, e.g. http://127.0.0.1:4321
 */
export function devProxy(gateway: URL, devOrigins: readonly string[]) {
	const ownOrigin = (proxyReq: ClientRequest, req: IncomingMessage) => {
		if (req.headers.origin && devOrigins.includes(req.headers.origin)) proxyReq.setHeader('origin', gateway.origin);
	};
	return {
		'/api': {
			target: gateway.origin,
			changeOrigin: true,
			configure: (proxy: ProxyEvents) => proxy.on('proxyReq', ownOrigin),
		},
		// Exact path: a prefix would also catch Vite's own files under /ws….
		'^/ws$': {
			target: gateway.origin,
			ws: true,
			changeOrigin: true,
			configure: (proxy: ProxyEvents) => proxy.on('proxyReqWs', ownOrigin),
		},
	};
}
