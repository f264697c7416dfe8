import type { IncomingMessage, ServerResponse } from 'node:http';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockResults } from '../../../server/block-results.ts';
import type { ClassApi } from '../../../server/class/class-api.ts';
import { loadConfig } from '../../../server/config.ts';
import { sendJson } from '../../../server/http-util.ts';
import { CheckApi } from '../../../server/exercises/check-api.ts';
import { gatewayRoutes } from '../../../server/http/gateway-routes.ts';
import { createRequestHandler } from '../../../server/http/request-handler.ts';
import { findRoute } from '../../../server/http/router.ts';
import { Metrics } from '../../../server/metrics.ts';
import { createOriginPolicy, type OriginPolicy } from '../../../server/origin-check.ts';
import { ReaderRegistry, type Reader } from '../../../server/readers.ts';
import { FakeBackend } from '../../helpers/fake-backend.ts';
import { listen, type Listening } from '../../helpers/http-listener.ts';

const METRICS_TOKEN = 'metrics-token-0123456789';
const INSTRUCTOR_TOKEN = 'instructor-token-0123456789';
const logger = pino({ level: 'silent' });

/** A backend whose readers each have a lab of their own to reset. */
class ResettableBackend extends FakeBackend {
	async resetLab(owner: string): Promise<string> {
		return `lab-of-${owner}`;
	}
}

/** The instructor API, as far as the routes see it: it answers its paths and knows the instructor's token. */
const fakeClassApi = {
	handle: (_req: IncomingMessage, res: ServerResponse, pathname: string) => {
		sendJson(res, 200, { classApi: pathname });
		return true;
	},
	isInstructor: async (req: IncomingMessage) => req.headers.authorization === `Bearer ${INSTRUCTOR_TOKEN}`,
} as unknown as ClassApi;

interface Setup {
	env?: NodeJS.ProcessEnv;
	backend?: FakeBackend;
	classApi?: ClassApi | null;
	/** The reader the request is from, when there is one. */
	reader?: (readers: ReaderRegistry) => Reader;
}

const servers: Listening[] = [];
afterEach(async () => {
	await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start({ env = {}, backend = new FakeBackend(), classApi = null, reader }: Setup = {}): Promise<{ server: Listening; host: string; blockResults: BlockResults; asker?: Reader }> {
	const config = loadConfig({ PORT: '0', ...env });
	const readers = new ReaderRegistry(backend, config, logger, Buffer.alloc(32, 7));
	const asker = reader?.(readers);
	const blockResults = new BlockResults();
	let policy: OriginPolicy | null = null;
	const checkApi = new CheckApi({ backend, readers, scripts: new Map(), logger });
	const routes = gatewayRoutes({ config, backend, readers, classApi, blockResults, checkApi, metrics: new Metrics(readers), policy: () => policy!, readerFor: () => asker, openPreview: (_req, res) => res.writeHead(303, { Location: 'http://preview' }).end(), logger });
	const server = await listen(createRequestHandler({ routes, policy: () => policy!, site: null, trustProxy: false, logger }));
	servers.push(server);
	policy = createOriginPolicy({ bindHost: '127.0.0.1', port: server.port });
	return { server, host: `127.0.0.1:${server.port}`, blockResults, ...(asker ? { asker } : {}) };
}

describe('gatewayRoutes', () => {
	it('answers health to any method, with the version and uptime', async () => {
		const { server } = await start();
		for (const method of ['GET', 'POST']) {
			const answer = await server.ask(method, '/api/health');
			expect(answer.status, method).toBe(200);
			expect(JSON.parse(answer.body)).toEqual({ ok: true, version: expect.any(String), uptimeSeconds: expect.any(Number) });
		}
	});

	it('answers the reader’s results, and none to a request without a reader', async () => {
		const withReader = await start({ reader: (readers) => readers.issue()!.reader });
		withReader.blockResults.record(withReader.asker!, 'chapters/pause:1', 0, Date.parse('2025-01-01T10:00:00Z'));
		expect(JSON.parse((await withReader.server.ask('GET', '/api/results')).body)).toEqual({ blocks: { 'chapters/pause:1': { exit: 0, at: '2025-01-01T10:00:00.000Z' } } });
		const without = await start();
		expect(JSON.parse((await without.server.ask('GET', '/api/results')).body)).toEqual({ blocks: {} });
	});

	it('resets the reader’s lab on POST only', async () => {
		const { server, host } = await start({ backend: new ResettableBackend(), reader: (readers) => readers.issue()!.reader });
		const answer = await server.ask('POST', '/api/lab/reset', { host, origin: `http://${host}` });
		expect(answer.status).toBe(200);
		expect(JSON.parse(answer.body)).toMatchObject({ lab: expect.stringMatching(/^lab-of-/), terminalsEnded: 0 });
		expect((await server.ask('GET', '/api/lab/reset')).status).toBe(404);
	});

	it('refuses a reset without a reader: a reader session in local mode, joining in class mode', async () => {
		const local = await start();
		const noReader = await local.server.ask('POST', '/api/lab/reset');
		expect(noReader.status).toBe(401);
		expect(JSON.parse(noReader.body)).toMatchObject({ code: 'LAB_ERR_NO_READER' });
		const inClass = await start({ classApi: fakeClassApi });
		const notJoined = await inClass.server.ask('POST', '/api/lab/reset');
		expect(notJoined.status).toBe(401);
		expect(JSON.parse(notJoined.body)).toMatchObject({ code: 'LAB_ERR_JOIN_REQUIRED' });
	});

	it('answers a reset the backend cannot do with the code of its error', async () => {
		const { server } = await start({ reader: (readers) => readers.issue()!.reader });
		expect(JSON.parse((await server.ask('POST', '/api/lab/reset')).body)).toMatchObject({ code: 'LAB_ERR_RESET_UNSUPPORTED' });
	});

	it('has no metrics without a token or an instructor to read them', async () => {
		const { server, host } = await start();
		const answer = await server.ask('GET', '/metrics', { host, authorization: `Bearer ${METRICS_TOKEN}` });
		expect(answer.status).toBe(404);
		expect(JSON.parse(answer.body)).toMatchObject({ code: 'LAB_ERR_NOT_FOUND' });
	});

	it('gives the metrics to the metrics token only, and tells the others how to authenticate', async () => {
		const { server, host } = await start({ env: { PODLAB_METRICS_TOKEN: METRICS_TOKEN } });
		const allowed = await server.ask('GET', '/metrics', { host, authorization: `Bearer ${METRICS_TOKEN}` });
		expect(allowed.status).toBe(200);
		expect(allowed.headers['content-type']).toMatch(/^text\/plain/);
		expect(allowed.headers['cache-control']).toBe('no-store');
		expect(allowed.body).toContain('podlab_websocket_closes_total');
		for (const authorization of ['Bearer wrong-token-0123456789', undefined]) {
			const refused = await server.ask('GET', '/metrics', authorization ? { host, authorization } : { host });
			expect(refused.status).toBe(401);
			expect(refused.headers['www-authenticate']).toBe('Bearer realm="podlab metrics"');
			expect(JSON.parse(refused.body)).toMatchObject({ code: 'LAB_ERR_INSTRUCTOR_AUTH' });
		}
	});

	it('gives the metrics to the instructor in class mode', async () => {
		const { server, host } = await start({ classApi: fakeClassApi });
		expect((await server.ask('GET', '/metrics', { host, authorization: `Bearer ${INSTRUCTOR_TOKEN}` })).status).toBe(200);
		expect((await server.ask('GET', '/metrics', { host, authorization: `Bearer ${METRICS_TOKEN}` })).status).toBe(401);
	});

	it('hands joining and the instructor’s paths to the class API, in class mode only', async () => {
		const config = loadConfig({ PORT: '0' });
		const readers = new ReaderRegistry(new FakeBackend(), config, logger, Buffer.alloc(32, 7));
		const backend = new FakeBackend();
		const options = { config, backend, readers, blockResults: new BlockResults(), checkApi: new CheckApi({ backend, readers, scripts: new Map(), logger }), metrics: new Metrics(readers), policy: () => createOriginPolicy({ bindHost: '127.0.0.1', port: 1 }), readerFor: () => undefined, openPreview: () => {}, logger };
		const inClass = gatewayRoutes({ ...options, classApi: fakeClassApi });
		const local = gatewayRoutes({ ...options, classApi: null });
		for (const [method, path] of [
			['POST', '/api/join'],
			['GET', '/api/instructor/students'],
			['DELETE', '/api/instructor/students/s1'],
		] as const) {
			expect(findRoute(inClass, method, path)?.path, `${method} ${path}`).toMatch(/^\/api\/(join|instructor\/\*)$/);
			expect(findRoute(local, method, path), `${method} ${path}`).toBeUndefined();
		}
		const { server, host } = await start({ classApi: fakeClassApi });
		expect(JSON.parse((await server.ask('GET', '/api/instructor/progress', { host })).body)).toEqual({ classApi: '/api/instructor/progress' });
	});

	it('refuses joining from a foreign page before the class API sees it', async () => {
		const { server, host } = await start({ classApi: fakeClassApi });
		const answer = await server.ask('POST', '/api/join', { host, origin: 'http://evil.example' });
		expect(answer.status).toBe(403);
		expect(JSON.parse(answer.body)).toMatchObject({ code: 'LAB_ERR_ORIGIN' });
	});
});
