import { describe, expect, it } from 'vitest';
import { DEFAULT_DEV_GATEWAY, devGatewayUrl, devProxy } from '../../src/dev-gateway.ts';

describe('devGatewayUrl', () => {
	it('defaults to the gateway next to the dev server', () => {
		expect(devGatewayUrl({}).href).toBe(`${DEFAULT_DEV_GATEWAY}/`);
		expect(devGatewayUrl({ PODLAB_GATEWAY_URL: '' }).href).toBe(`${DEFAULT_DEV_GATEWAY}/`);
	});

	it('accepts an http(s) origin', () => {
		expect(devGatewayUrl({ PODLAB_GATEWAY_URL: 'https://lab.example:8443' }).href).toBe('https://lab.example:8443/');
	});

	it('names the variable and the fix when the value is wrong', () => {
		expect(() => devGatewayUrl({ PODLAB_GATEWAY_URL: 'ws://127.0.0.1:4322' })).toThrowErrorMatchingInlineSnapshot(`[Error: PODLAB_GATEWAY_URL="ws://127.0.0.1:4322" must be an http:// or https:// URL, e.g. http://127.0.0.1:4322. Unset it to use http://127.0.0.1:4322.]`);
		expect(() => devGatewayUrl({ PODLAB_GATEWAY_URL: 'http://127.0.0.1:4322/api' })).toThrowErrorMatchingInlineSnapshot(`[Error: PODLAB_GATEWAY_URL="http://127.0.0.1:4322/api" must be an origin only, without a path. Unset it to use http://127.0.0.1:4322.]`);
	});
});

describe('devProxy', () => {
	const gateway = new URL('http://127.0.0.1:4322');
	const proxy = devProxy(gateway, ['http://127.0.0.1:4321']);

	/** Runs a proxy entry's configure hook with a fake proxy and returns the Origin it forwards. */
	function forwardedOrigin(entry: (typeof proxy)['/api'] | (typeof proxy)['^/ws$'], event: string, origin?: string) {
		let listener: ((proxyReq: never, req: never) => void) | undefined;
		entry.configure({ on: (name: string, handler: typeof listener) => name === event && (listener = handler) } as never);
		const headers: Record<string, string> = {};
		listener!({ setHeader: (name: string, value: string) => (headers[name] = value) } as never, { headers: { origin } } as never);
		return headers.origin ?? origin;
	}

	it('presents the dev server\'s pages to the gateway as its own', () => {
		expect(forwardedOrigin(proxy['^/ws$'], 'proxyReqWs', 'http://127.0.0.1:4321')).toBe('http://127.0.0.1:4322');
		expect(forwardedOrigin(proxy['/api'], 'proxyReq', 'http://127.0.0.1:4321')).toBe('http://127.0.0.1:4322');
	});

	it('leaves other origins alone, for the gateway to refuse', () => {
		expect(forwardedOrigin(proxy['^/ws$'], 'proxyReqWs', 'https://evil.example')).toBe('https://evil.example');
		expect(forwardedOrigin(proxy['/api'], 'proxyReq', undefined)).toBeUndefined();
	});

	it('proxies WebSockets on /ws only, with the Host rewritten', () => {
		expect(proxy['^/ws$']).toMatchObject({ target: 'http://127.0.0.1:4322', ws: true, changeOrigin: true });
		expect(proxy['/api']).toMatchObject({ target: 'http://127.0.0.1:4322', changeOrigin: true });
	});
});
