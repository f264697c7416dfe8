/**
 * The gateway: one HTTP server for the built site, `/api/*` and the `/ws` terminal socket. Every
 * upgrade is checked (path, Host, Origin, reader cookie) before the WebSocket handshake, so nothing
 * reaches a shell without passing them.
 */
import { existsSync } from 'node:fs';
import { createServer, STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { ERRORS, type ErrorCode } from '../src/protocol.ts';
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
import { clientAddress } from './http-util.ts';
import { CheckApi } from './exercises/check-api.ts';
import { loadCheckScripts } from './exercises/check-scripts.ts';
import { gatewayRoutes } from './http/gateway-routes.ts';
import { createRequestHandler } from './http/request-handler.ts';
import { Metrics } from './metrics.ts';
import { createOriginPolicy, type OriginPolicy } from './origin-check.ts';
import { startPreviews, type Previews } from './preview/preview.ts';
import { ReaderRegistry, type Reader } from './readers.ts';
import { readerId } from './session-api.ts';
import { SocketsPerAddress } from './sockets-per-address.ts';
import { createStaticSite } from './static-site.ts';
import { loadOrCreateKey, type StateReporter } from './state.ts';

export interface Gateway {
	readonly url: URL;
	readonly readers: ReaderRegistry;
	readonly policy: OriginPolicy;
	/** Where lab previews are served (`http://*.localhost:4322`), or null without them. */
	readonly previewOrigin: string | null;
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

	const socketsByAddress = new SocketsPerAddress({ maxPerAddress: config.maxSocketsPerAddress });
	let policy: OriginPolicy | null = null;
	const checkApi = new CheckApi({ backend, readers, scripts: await loadCheckScripts(config.exercisesDir), logger });
	let previews: Previews | null = null;
	const routes = gatewayRoutes({ config, backend, readers, classApi, blockResults, checkApi, metrics, policy: () => policy!, readerFor, openPreview: (req, res) => previews!.open(req, res), logger });
	const server = createServer(createRequestHandler({ routes, policy: () => policy!, site, trustProxy: config.trustProxy, logger }));

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
		if (socketsByAddress.isFull(address)) return refuse('LAB_ERR_ADDRESS_LIMIT');
		sockets.handleUpgrade(req, socket, head, (ws) => {
			const socketClosed = readers.socketOpened(reader);
			const addressSocketClosed = socketsByAddress.opened(address);
			ws.once('close', (code) => {
				metrics.socketCloses.inc({ code: String(code) });
				socketClosed();
				addressSocketClosed();
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
	previews = await startPreviews({
		config,
		backend,
		key,
		gatewayPort: address.port,
		isReader: (label) => (roster ? roster.get(label) !== undefined : readers.hasLabel(label)),
		readerOf: (req) => readerFor(req)?.label ?? null,
		studentFor: (req, student) => (classApi?.hasInstructorCookie(req) && roster?.get(student) ? student : null),
		noReader: classApi ? 'Join the class first: your lab is yours once you have joined.' : 'Your lab starts with your first Run: run a block of the tutorial, then open the preview again.',
		logger,
	}).catch(async (error: unknown) => {
		server.close();
		await backend.close();
		throw error;
	});
	const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
	const url = new URL(`http://${hostForUrl}:${address.port}/`);
	logger.info({ url: url.href, allowedOrigins: policy.allowedOrigins, previews: previews.origin?.pattern ?? null, lab: backend.describe() }, 'listening');

	let closing: Promise<void> | null = null;
	return {
		url,
		readers,
		policy,
		previewOrigin: previews.origin?.pattern ?? null,
		close: () => {
			stopLifetimes();
			previews?.close();
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

/** Answers a refused upgrade with a plain HTTP error: no handshake happens. */
function refuseUpgrade(socket: Duplex, code: ErrorCode): void {
	const status = ERRORS[code].http ?? 400;
	const body = JSON.stringify({ code, message: ERRORS[code].text });
	socket.end(
		`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
	);
}
