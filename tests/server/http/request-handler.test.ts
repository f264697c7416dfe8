import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_CSP } from '../../../server/csp.ts';
import { sendJson } from '../../../server/http-util.ts';
import { createRequestHandler, SECURITY_HEADERS } from '../../../server/http/request-handler.ts';
import type { Route } from '../../../server/http/router.ts';
import { createOriginPolicy, type OriginPolicy } from '../../../server/origin-check.ts';
import type { StaticHandler } from '../../../server/static-site.ts';
import { listen, type Listening } from '../../helpers/http-listener.ts';

const routes: Route[] = [
	{ method: '*', path: '/api/health', anyOrigin: true, handle: (_req, res) => sendJson(res, 200, { ok: true }) },
	{ method: 'POST', path: '/api/change', handle: (req, res) => sendJson(res, 200, { changed: req.method }) },
	{ method: '*', path: '/api/folder/*', handle: (_req, res, pathname) => sendJson(res, 200, { pathname }) },
	{
		method: 'GET',
		path: '/api/throws',
		handle: () => {
			throw new Error('the handler broke');
		},
	},
];

/** A site with one page, and a file that fails to read. */
const site: StaticHandler = (req, res, next) => {
	if (req.url === '/') {
		res.setHeader('Content-Security-Policy', "default-src 'self'");
		res.end('<h1>page</h1>');
	} else if (req.url === '/broken.css') next(new Error('read failed'));
	else next();
};

const NOT_FOUND = { code: 'LAB_ERR_NOT_FOUND', message: 'There is nothing at this address.' };

async function start(options: { site: StaticHandler | null; trustProxy?: boolean }): Promise<Listening> {
	// As in the gateway: the policy names the port, known once the server listens.
	let policy: OriginPolicy | null = null;
	const server = await listen(createRequestHandler({ routes, policy: () => policy!, site: options.site, trustProxy: options.trustProxy ?? false, logger: pino({ level: 'silent' }) }));
	policy = createOriginPolicy({ bindHost: '127.0.0.1', port: server.port });
	return server;
}

describe('createRequestHandler', () => {
	let server: Listening;
	let host: string;
	beforeAll(async () => {
		server = await start({ site });
		host = `127.0.0.1:${server.port}`;
	});
	afterAll(() => server.close());

	it('sends the security headers and the API policy on every answer, errors included', async () => {
		for (const path of ['/api/health', '/api/nope', '/nope']) {
			const { headers } = await server.ask('GET', path);
			for (const [name, value] of Object.entries(SECURITY_HEADERS)) expect(headers[name.toLowerCase()], `${path} ${name}`).toBe(value);
			expect(headers['content-security-policy'], path).toBe(API_CSP);
			expect(headers['strict-transport-security'], path).toBeUndefined();
		}
	});

	it('lets the site’s pages send their own policy', async () => {
		const page = await server.ask('GET', '/');
		expect(page).toMatchObject({ status: 200, body: '<h1>page</h1>' });
		expect(page.headers['content-security-policy']).toBe("default-src 'self'");
	});

	it('refuses a Host it does not serve, or a repeated one, before any route', async () => {
		for (const headers of [{ host: 'rebind.evil.example' }, ['Host', host, 'Host', host]]) {
			const answer = await server.ask('GET', '/api/health', headers);
			expect(answer.status).toBe(403);
			expect(JSON.parse(answer.body)).toMatchObject({ code: 'LAB_ERR_HOST' });
		}
		expect((await server.ask('GET', '/api/health', ['Host', host])).status).toBe(200);
	});

	it('answers from the route of the method and path, and a 404 with its code for the others', async () => {
		expect(await server.ask('POST', '/api/change')).toMatchObject({ status: 200, body: '{"changed":"POST"}' });
		expect(await server.ask('GET', '/api/folder/a/b')).toMatchObject({ status: 200, body: '{"pathname":"/api/folder/a/b"}' });
		for (const [method, path] of [
			['GET', '/api/change'],
			['GET', '/api/nope'],
			['POST', '/api/nope'],
		]) {
			const answer = await server.ask(method!, path!);
			expect(answer.status, `${method} ${path}`).toBe(404);
			expect(JSON.parse(answer.body)).toEqual(NOT_FOUND);
		}
	});

	it('refuses a change from a foreign page, to a route or to no route under /api/, but not a read', async () => {
		const foreign = { host, origin: 'http://evil.example' };
		for (const path of ['/api/change', '/api/nope', '/api/folder/x']) {
			const answer = await server.ask('POST', path, foreign);
			expect(answer.status, path).toBe(403);
			expect(JSON.parse(answer.body)).toMatchObject({ code: 'LAB_ERR_ORIGIN' });
		}
		expect((await server.ask('GET', '/api/folder/x', foreign)).status).toBe(200);
		expect((await server.ask('POST', '/api/change', { host, origin: `http://${host}` })).status).toBe(200);
		expect((await server.ask('POST', '/api/change', { host })).status).toBe(200);
	});

	it('lets a route that changes nothing answer any origin', async () => {
		expect((await server.ask('POST', '/api/health', { host, origin: 'http://evil.example' })).status).toBe(200);
	});

	it('answers 404 with its code for a path the site does not have or cannot read', async () => {
		for (const path of ['/nope', '/broken.css']) {
			const answer = await server.ask('GET', path);
			expect(answer.status, path).toBe(404);
			expect(JSON.parse(answer.body)).toEqual(NOT_FOUND);
		}
	});

	it('answers 500 with its code when a handler throws, and goes on answering', async () => {
		const answer = await server.ask('GET', '/api/throws');
		expect(answer.status).toBe(500);
		expect(JSON.parse(answer.body)).toMatchObject({ code: 'LAB_ERR_INTERNAL' });
		expect((await server.ask('GET', '/api/health')).status).toBe(200);
	});
});

describe('createRequestHandler without a built site', () => {
	it('answers 404 with its code outside the routes', async () => {
		const server = await start({ site: null });
		const answer = await server.ask('GET', '/');
		expect(answer.status).toBe(404);
		expect(JSON.parse(answer.body)).toEqual(NOT_FOUND);
		await server.close();
	});
});

describe('createRequestHandler behind a trusted proxy', () => {
	it('sends HSTS only when the proxy says the browser came over https', async () => {
		const server = await start({ site: null, trustProxy: true });
		const host = `127.0.0.1:${server.port}`;
		expect((await server.ask('GET', '/api/health', { host, 'x-forwarded-proto': 'https' })).headers['strict-transport-security']).toBe('max-age=31536000');
		expect((await server.ask('GET', '/api/health', { host, 'x-forwarded-proto': 'http' })).headers['strict-transport-security']).toBeUndefined();
		await server.close();
	});
});

