/**
 * The gateway: one HTTP server for the built site, `/api/*` and the `/ws` terminal socket. Every
 * upgrade is checked (path, Host, Origin, reader cookie) before the WebSocket handshake, so nothing
 * reaches a shell without passing them.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { ERRORS, LabError, type ErrorCode } from '../src/protocol.ts';
import { Attachment } from './attachment.ts';
import { BlockResults } from './block-results.ts';
import type { LabBackend } from './backends/backend.ts';
import { createBackend } from './backends/index.ts';
import { resetReaderLab } from './backends/lab-reset.ts';
import { ClassApi } from './class/class-api.ts';
import { recordClassRuns } from './class/class-runs.ts';
import { watchLifetimes } from './class/lifetime.ts';
import { Roster } from './class/roster.ts';
import { RunLog } from './class/run-log.ts';
import type { Config } from './config.ts';
import { API_CSP } from './csp.ts';
import { bearerToken, clientAddress, isHttps, sendError, sendJson } from './http-util.ts';
import { Metrics } from './metrics.ts';
import { createOriginPolicy, type OriginPolicy } from './origin-check.ts';
import { ReaderRegistry, type Reader } from './readers.ts';
import { readerId, serveSession } from './session-api.ts';
import { labAnswer } from './lab-api.ts';
import { createStaticSite } from './static-site.ts';
import { loadOrCreateKey, type StateReporter } from './state.ts';

const VERSION = '0.1.0';

/** Headers on every response: no framing, no sniffing, no referrer leaks. CSP: see csp.ts. */
const SECURITY_HEADERS = {
	'X-Content-Type-Options': 'nosniff',
	'Referrer-Policy': 'same-origin',
	'X-Frame-Options': 'DENY',
};

export interface Gateway {
	readonly url: URL;
	readonly readers: ReaderRegistry;
	readonly policy: OriginPolicy;
	/** Tells attached clients, ends every terminal, stops listening. */
	close(): Promise<void>;
}

export async function startGateway(config: Config, logger: Logger): Promise<Gateway> {
	const backend = await createBackend(config, logger);
	// The state directory's key signs local readers' cookies too, so a restart does not forget them.
	const key = await loadOrCreateKey(config.stateDir);
	const readers = new ReaderRegistry(backend, config, logger, key);
	const metrics = new Metrics(readers);
	// A full state disk is an error to see, not a crash: the owners retry (state.ts).
	const stateReporter: StateReporter = {
		writeFailed: (path, error, retryInMs) => {
			logger.error({ path, err: error, retryInMs }, 'state write failed: the class goes on from memory, retrying');
			metrics.stateWriteFailures.inc({ file: basename(path) });
		},
		writeRecovered: (path) => logger.info({ path }, 'state write recovered'),
	};
	const roster = config.mode === 'class' ? await Roster.open(join(config.stateDir, 'roster.json'), config.seats, stateReporter) : null;
	// Seats freed while the gateway was down: their places (labs) go now.
	if (roster) void backend.seats?.retain?.(new Set(roster.list().map((student) => student.id))).catch((error: unknown) => logger.warn({ err: error }, 'could not free the places of students no longer in the roster'));
	const runLog = roster ? await RunLog.open(join(config.stateDir, 'runs.jsonl'), stateReporter) : null;
	const metricsTokenDigest = config.metricsToken ? digestOf(config.metricsToken) : null;
	const seats = backend.seats;
	const classApi =
		roster && runLog
			? new ClassApi({
					config,
					roster,
					readers,
					key,
					logger,
					runLog,
					onJoinRefused: (reason) => metrics.joinsRefused.inc({ reason }),
					resetLab: (reader: Reader) => resetReaderLab(backend, reader, logger),
					// A backend with a place per student (a lab host) gives it at join and takes it back with the seat.
					...(seats ? { hostOf: (student: string) => seats.labOf(student), assignHost: (student: string) => seats.assign(student), releaseHost: (student: string) => seats.release(student) } : {}),
					...(seats?.labStatus ? { labStatusOf: seats.labStatus.bind(seats) } : {}),
				})
			: null;
	// Each reader's last result per block, so a page shows its ✓/✗ again (GET /api/results).
	const blockResults = new BlockResults();
	readers.on('run', (reader, { block, exit }) => {
		if (block !== null) blockResults.record(reader, block, exit);
	});
	if (classApi && roster && runLog) recordClassRuns({ readers, roster, runLog, events: classApi.events, logger });
	const stopLifetimes = roster
		? watchLifetimes({
				readers,
				idleMs: config.idleMs,
				warningMs: config.idleWarningMs,
				endsAt: config.classEndsAt ? Date.parse(config.classEndsAt) : null,
				logger,
			})
		: () => {};
	/** Who is asking: a joined student (class mode) or the holder of a reader cookie (local mode). */
	const readerFor = (req: IncomingMessage): Reader | undefined => (classApi ? (classApi.readerFor(req) ?? undefined) : readers.find(readerId(req)));
	// Pings are answered by Attachment, counted against the message rate: ws's own limit on pending
	// pongs would drop a flooding socket without a close frame.
	const sockets = new WebSocketServer({ noServer: true, maxPayload: config.maxPayloadBytes, perMessageDeflate: false, autoPong: false });
	const site = existsSync(config.siteDir) ? createStaticSite(config.siteDir) : null;
	if (!site) logger.warn({ siteDir: config.siteDir }, 'no built site: serving the API and terminals only (run `npm run build`)');

	/** Open terminal sockets per client address (PODLAB_MAX_SOCKETS_PER_ADDRESS). */
	const socketsByAddress = new Map<string, number>();
	let policy: OriginPolicy | null = null;
	const server = createServer((req, res) => {
		for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
		if (isHttps(req, config.trustProxy)) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
		try {
			handleRequest(req, res);
		} catch (error) {
			logger.error({ err: error, path: req.url }, 'request failed');
			if (!res.headersSent) sendError(res, 'LAB_ERR_INTERNAL');
		}
	});

	function handleRequest(req: IncomingMessage, res: ServerResponse): void {
		const { pathname } = new URL(req.url ?? '/', 'http://gateway');
		// The site's pages replace it with their own (static-site.ts); API answers keep it.
		res.setHeader('Content-Security-Policy', API_CSP);
		if (!policy!.isRequestHostAllowed(req)) return sendError(res, 'LAB_ERR_HOST');
		if (pathname === '/api/health') return sendJson(res, 200, { ok: true, version: VERSION, uptimeSeconds: Math.round(process.uptime()) });
		if (pathname === '/api/lab') {
			void labAnswer(backend, config).then(
				(answer) => sendJson(res, 200, answer),
				(error) => {
					logger.error({ err: error }, 'lab detection failed');
					if (!res.headersSent) sendError(res, 'LAB_ERR_INTERNAL');
				},
			);
			return;
		}
		if (pathname === '/api/session') return serveSession(req, res, { config, policy: policy!, readers, logger, classApi, readerFor });
		if (pathname === '/api/results') return blockResults.serve(res, readerFor(req));
		// Requests that change something (join, sign in, broadcast, end a student) come from our own
		// pages only; the cookies are SameSite=Strict as well.
		if (pathname.startsWith('/api/') && req.method !== 'GET' && req.method !== 'HEAD' && policy!.originOf(req) === 'refused') {
			return sendError(res, 'LAB_ERR_ORIGIN');
		}
		if (pathname === '/api/lab/reset' && req.method === 'POST') {
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
			return;
		}
		if (pathname === '/metrics') {
			void serveMetrics(req, res).catch((error) => {
				logger.error({ err: error }, 'metrics failed');
				if (!res.headersSent) sendError(res, 'LAB_ERR_INTERNAL');
			});
			return;
		}
		if (classApi?.handle(req, res, pathname)) return;
		if (pathname.startsWith('/api/')) return sendError(res, 'LAB_ERR_NOT_FOUND');
		if (site) {
			return site(req, res, (error) => {
				if (error) logger.warn({ err: error, path: pathname }, 'static file failed');
				if (!res.headersSent) sendNotFound(res);
				else res.destroy();
			});
		}
		sendNotFound(res);
	}

	/** Prometheus metrics, for the metrics token or the instructor's; absent when neither is configured. */
	async function serveMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
		if (!metricsTokenDigest && !classApi) return sendError(res, 'LAB_ERR_NOT_FOUND');
		const token = bearerToken(req);
		const allowed =
			(token !== null && metricsTokenDigest !== null && timingSafeEqual(digestOf(token), metricsTokenDigest)) ||
			(classApi !== null && (await classApi.isInstructor(req)));
		if (!allowed) {
			res.setHeader('WWW-Authenticate', 'Bearer realm="podlab metrics"');
			return sendError(res, 'LAB_ERR_INSTRUCTOR_AUTH');
		}
		const text = await metrics.registry.metrics();
		res.writeHead(200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' });
		res.end(text);
	}

	server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
		socket.on('error', () => socket.destroy());
		const refuse = (code: ErrorCode) => {
			logger.info({ code, origin: req.headers.origin, host: req.headers.host }, 'upgrade refused');
			refuseUpgrade(socket, code);
		};
		const { pathname } = new URL(req.url ?? '/', 'http://gateway');
		if (pathname !== '/ws') return refuse('LAB_ERR_NOT_FOUND');
		if (!policy!.isRequestHostAllowed(req)) return refuse('LAB_ERR_HOST');
		if (policy!.originOf(req) !== 'own') return refuse('LAB_ERR_ORIGIN');
		// The instructor (class mode, signed in) watches students' terminals; everyone else is a reader.
		const instructor = classApi?.hasInstructorCookie(req) ?? false;
		const reader = instructor ? readers.instructor() : readerFor(req);
		if (!reader) return refuse(classApi ? 'LAB_ERR_JOIN_REQUIRED' : 'LAB_ERR_NO_READER');
		if (!instructor && reader.sockets >= config.maxTerminalsPerReader * 4) return refuse('LAB_ERR_SOCKET_LIMIT');
		const address = clientAddress(req, config.trustProxy);
		if ((socketsByAddress.get(address) ?? 0) >= config.maxSocketsPerAddress) return refuse('LAB_ERR_ADDRESS_LIMIT');
		sockets.handleUpgrade(req, socket, head, (ws) => {
			const socketClosed = readers.socketOpened(reader);
			socketsByAddress.set(address, (socketsByAddress.get(address) ?? 0) + 1);
			ws.once('close', (code) => {
				metrics.socketCloses.inc({ code: String(code) });
				socketClosed();
				const left = (socketsByAddress.get(address) ?? 1) - 1;
				if (left > 0) socketsByAddress.set(address, left);
				else socketsByAddress.delete(address);
			});
			new Attachment(ws, reader, readers, config.messagesPerSecond, logger, instructor);
		});
	});

	server.listen(config.port, config.host);
	await new Promise<void>((resolve, reject) => {
		server.once('listening', resolve);
		server.once('error', (error) => reject(new Error(`cannot listen on ${config.host}:${config.port}: ${error.message}`, { cause: error })));
	});
	const address = server.address() as AddressInfo;
	policy = createOriginPolicy({ bindHost: config.host, port: address.port, allowedOrigins: config.allowedOrigins, allowedHosts: config.allowedHosts });
	const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
	const url = new URL(`http://${hostForUrl}:${address.port}/`);
	logger.info({ url: url.href, allowedOrigins: policy.allowedOrigins, lab: backend.describe() }, 'listening');

	let closing: Promise<void> | null = null;
	return {
		url,
		readers,
		policy,
		close: () => {
			stopLifetimes();
			classApi?.events.close();
			return (closing ??= shutdown(server, sockets, readers, backend, logger).then(async () => {
				await roster?.flush();
				await runLog?.flush();
			}));
		},
	};
}

async function shutdown(server: Server, sockets: WebSocketServer, readers: ReaderRegistry, backend: LabBackend, logger: Logger): Promise<void> {
	logger.info('shutting down: ending every terminal');
	server.close();
	await readers.close();
	for (const client of sockets.clients) client.close(ERRORS.LAB_ERR_SHUTDOWN.close, 'LAB_ERR_SHUTDOWN');
	server.closeAllConnections();
	await backend.close();
	logger.info('shut down');
}

function sendNotFound(res: ServerResponse): void {
	sendError(res, 'LAB_ERR_NOT_FOUND');
}

/** Answers a refused upgrade with a plain HTTP error: no handshake happens. */
function refuseUpgrade(socket: Duplex, code: ErrorCode): void {
	const status = ERRORS[code].http ?? 400;
	const body = JSON.stringify({ code, message: ERRORS[code].text });
	socket.end(
		`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
	);
}

/** Fixed-length digests, so tokens of any length compare in constant time. */
function digestOf(token: string): Buffer {
	return createHash('sha256').update(token).digest();
}
