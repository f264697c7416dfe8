/**
 * What the gateway answers over HTTP, as a route table (router.ts): its health, the lab, the reader's
 * session and results, resetting the reader's lab, the metrics, and in class mode joining and the
 * instructor's API (class/class-api.ts). Every request passes request-handler.ts's checks first.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { LabError } from '../../src/protocol.ts';
import type { LabBackend } from '../backends/backend.ts';
import { resetReaderLab } from '../backends/lab-reset.ts';
import type { BlockResults } from '../block-results.ts';
import type { ClassApi } from '../class/class-api.ts';
import type { Config } from '../config.ts';
import { exerciseOfPath, type CheckApi } from '../exercises/check-api.ts';
import { sendError, sendJson } from '../http-util.ts';
import { labAnswer } from '../lab-api.ts';
import type { Metrics } from '../metrics.ts';
import type { OriginPolicy } from '../origin-check.ts';
import type { Reader, ReaderRegistry } from '../readers.ts';
import { serveSession } from '../session-api.ts';
import { createMetricsAuth } from './metrics-auth.ts';
import type { Route } from './router.ts';

const VERSION = '0.1.0';

export interface GatewayRoutesOptions {
	config: Config;
	backend: LabBackend;
	readers: ReaderRegistry;
	/** Class mode's API, or null in local mode. */
	classApi: ClassApi | null;
	blockResults: BlockResults;
	/** `POST /api/check/<id>`: an exercise's check in the reader's lab. */
	checkApi: CheckApi;
	metrics: Metrics;
	/** The Host and Origin checks, known once the server listens. */
	policy(): OriginPolicy;
	/** Who is asking: a joined student (class mode) or the holder of a reader cookie (local mode). */
	readerFor(req: IncomingMessage): Reader | undefined;
	/** `GET /api/preview`: a link into the reader's lab's preview (../preview/preview-open.ts). */
	openPreview(req: IncomingMessage, res: ServerResponse): void;
	logger: Logger;
}

/** The gateway's routes, in the order they are tried. */
export function gatewayRoutes(options: GatewayRoutesOptions): Route[] {
	const { config, backend, readers, classApi, blockResults, checkApi, metrics, readerFor, logger } = options;
	const metricsAccess = createMetricsAuth({ token: config.metricsToken ?? null, isInstructor: classApi ? (req) => classApi.isInstructor(req) : null });

	/** Prometheus metrics, for the metrics token or the instructor's; absent when neither is configured. */
	async function serveMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
		const access = await metricsAccess(req);
		if (access === 'absent') return sendError(res, 'LAB_ERR_NOT_FOUND');
		if (access === 'refused') {
			res.setHeader('WWW-Authenticate', 'Bearer realm="podlab metrics"');
			return sendError(res, 'LAB_ERR_INSTRUCTOR_AUTH');
		}
		const text = await metrics.registry.metrics();
		res.writeHead(200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' });
		res.end(text);
	}

	const classRoutes: Route[] = classApi
		? [
				{ method: '*', path: '/api/join', handle: (req, res, pathname) => classApi.handle(req, res, pathname) },
				{ method: '*', path: '/api/instructor/*', handle: (req, res, pathname) => classApi.handle(req, res, pathname) },
			]
		: [];
	return [
		{
			method: '*',
			path: '/api/health',
			anyOrigin: true,
			handle: (_req, res) => sendJson(res, 200, { ok: true, version: VERSION, uptimeSeconds: Math.round(process.uptime()) }),
		},
		{
			method: '*',
			path: '/api/lab',
			anyOrigin: true,
			handle: (_req, res) => {
				void labAnswer(backend, config).then(
					(answer) => sendJson(res, 200, answer),
					(error) => {
						logger.error({ err: error }, 'lab detection failed');
						if (!res.headersSent) sendError(res, 'LAB_ERR_INTERNAL');
					},
				);
			},
		},
		// The session checks the Origin itself, more strictly (session-api.ts).
		{ method: '*', path: '/api/session', anyOrigin: true, handle: (req, res) => serveSession(req, res, { config, policy: options.policy(), readers, logger, classApi, readerFor }) },
		{ method: '*', path: '/api/results', anyOrigin: true, handle: (req, res) => blockResults.serve(res, readerFor(req)) },
		{
			method: 'POST',
			path: '/api/lab/reset',
			handle: (req, res) => {
				const reader = readerFor(req);
				if (!reader) return sendError(res, classApi ? 'LAB_ERR_JOIN_REQUIRED' : 'LAB_ERR_NO_READER');
				void resetReaderLab(backend, reader, logger).then(
					(result) => sendJson(res, 200, result),
					(error) => {
						if (error instanceof LabError) return sendError(res, error.code, error.message);
						logger.error({ err: error, reader: reader.label }, 'lab reset failed');
						if (!res.headersSent) sendError(res, 'LAB_ERR_INTERNAL');
					},
				);
			},
		},
		{ method: 'GET', path: '/api/preview', handle: (req, res) => options.openPreview(req, res) },
		{
			method: 'POST',
			path: '/api/check/*',
			handle: (req, res, pathname) => void checkApi.serve(res, exerciseOfPath(pathname), readerFor(req), classApi ? 'LAB_ERR_JOIN_REQUIRED' : 'LAB_ERR_NO_READER'),
		},
		{
			method: '*',
			path: '/metrics',
			handle: (req, res) => {
				void serveMetrics(req, res).catch((error) => {
					logger.error({ err: error }, 'metrics failed');
					if (!res.headersSent) sendError(res, 'LAB_ERR_INTERNAL');
				});
			},
		},
		...classRoutes,
	];
}
