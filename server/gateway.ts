/**
 * The gateway: one HTTP server for the built site, `/api/*` and the `/ws` terminal socket. Every
 * upgrade is checked (path, Host, Origin, reader cookie) before the WebSocket handshake, so nothing
 * reaches a shell without passing them.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { parseCookie, stringifySetCookie } from 'cookie';
import type { Logger } from 'pino';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { WebSocketServer } from 'ws';
import { DEFAULT_TERMINAL, ERRORS, type ErrorCode, type LabResponse, type SessionResponse } from '../src/protocol.ts';
import { Attachment } from './attachment.ts';
import { BlockResults } from './block-results.ts';
import type { LabBackend } from './backends/backend.ts';
import { LocalBackend } from './backends/local.ts';
import { Metrics } from './metrics.ts';
import { SshBackend } from './backends/ssh.ts';
import type { Config } from './config.ts';
import { API_CSP } from './csp.ts';
import { cachedLabStatus } from './lab-status.ts';
import { createOriginPolicy, type OriginPolicy } from './origin-check.ts';
import { ClassApi, transcriptEntryOf } from './class/class-api.ts';
import { watchLifetimes } from './class/lifetime.ts';
import { Roster } from './class/roster.ts';
import { RunLog } from './class/run-log.ts';
import { isHttps, sendError, sendJson } from './http-util.ts';
import { ReaderRegistry, type Reader } from './readers.ts';
import { createStaticSite } from './static-site.ts';
import { loadOrCreateKey } from './state.ts';

export const READER_COOKIE = 'podlab_reader';
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
	const backend = config.labBackend === 'ssh' ? await createSshBackend(config, logger) : await LocalBackend.create({ ...config, logger });
	const roster = config.mode === 'class' ? await Roster.open(join(config.stateDir, 'roster.json'), config.seats) : null;
	const runLog = roster ? await RunLog.open(join(config.stateDir, 'runs.jsonl')) : null;
	let metrics: Metrics | null = null;
	const blockResults = new BlockResults();
	const readers = new ReaderRegistry(backend, config, logger, {
		onRun: (reader, { block, command, term, exit }) => {
			if (block !== null) blockResults.record(reader, block, exit);
			if (roster?.get(reader.label)) {
				// The roster's lastRun is the instructor page's "last block run ✓/✗"; typed commands go to the transcript only.
				if (block !== null) roster.recordRun(reader.label, block, exit);
				const entry = { student: reader.label, block, command, term, exit, at: Date.now(), page: reader.page };
				runLog?.record(entry);
				// The command itself stays out of the log: a typed line may hold a secret.
				logger.info({ student: reader.label, block: block ?? 'typed', term, exit }, 'run');
				// The instructor page's board hears of it at once (instructor-events.ts).
				classApi?.events.run(transcriptEntryOf(entry));
			}
			// podlab_runs_total is "Blocks run, by outcome" (metrics.ts); typed commands are not counted.
			if (block !== null) metrics?.runs.inc({ outcome: exit === 0 ? 'ok' : 'fail' });
		},
		onOutputBytes: (bytes) => metrics?.outputBytes.inc(bytes),
		onInputBytes: (bytes) => metrics?.inputBytes.inc(bytes),
	});
	metrics = new Metrics(readers);
	const metricsTokenDigest = config.metricsToken ? digestOf(config.metricsToken) : null;
	const classApi = roster
		? new ClassApi({
				config,
				roster,
				readers,
				key: await loadOrCreateKey(config.stateDir),
				logger,
				runLog: runLog!,
				onJoinRefused: (reason) => metrics?.joinsRefused.inc({ reason }),
				// With lab hosts, a seat is a host: taken at join (a full pool says so there), given back with the seat.
				...(backend instanceof SshBackend
					? {
							hostOf: (student: string) => backend.hostOf(student) ?? null,
							assignHost: (student: string) => backend.assignHost(student).then(() => {}),
							releaseHost: async (student: string) => {
								await backend.endStudent(student);
								await backend.releaseStudent(student);
							},
						}
					: {}),
			})
		: null;
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
	const limiter = new RateLimiterMemory({ points: config.messagesPerSecond, duration: 1 });
	const sockets = new WebSocketServer({ noServer: true, maxPayload: config.maxPayloadBytes, perMessageDeflate: false });
	const site = existsSync(config.siteDir) ? createStaticSite(config.siteDir) : null;
	if (!site) logger.warn({ siteDir: config.siteDir }, 'no built site: serving the API and terminals only (run `npm run build`)');

	const labStatus = cachedLabStatus();
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
		if (!policy!.isHostAllowed(req.headers.host)) return sendError(res, 'LAB_ERR_HOST');
		if (pathname === '/api/health') return sendJson(res, 200, { ok: true, version: VERSION, uptimeSeconds: Math.round(process.uptime()) });
		if (pathname === '/api/lab') {
			void labStatus().then((lab) =>
				sendJson(res, 200, {
					...backend.describe(),
					mode: config.mode,
					profile: lab.profile,
					ready: lab.ready,
					summary: lab.summary,
					terminals: { default: DEFAULT_TERMINAL, maxPerReader: config.maxTerminalsPerReader },
					scrollbackBytes: config.scrollbackBytes,
					graceMs: config.graceMs,
					lab,
				} satisfies LabResponse),
			);
			return;
		}
		if (pathname === '/api/session') return session(req, res);
		if (pathname === '/api/results') return blockResults.serve(res, readerFor(req));
		// Requests that change something (join, sign in, broadcast, end a student) come from our own
		// pages only; the cookies are SameSite=Strict as well.
		if (pathname.startsWith('/api/') && req.method !== 'GET' && req.method !== 'HEAD' && req.headers.origin !== undefined && !policy!.isOriginAllowed(req.headers.origin)) {
			return sendError(res, 'LAB_ERR_ORIGIN');
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
		const token = /^Bearer (\S{1,200})$/.exec(req.headers.authorization ?? '')?.[1];
		const allowed =
			(token !== undefined && metricsTokenDigest !== null && timingSafeEqual(digestOf(token), metricsTokenDigest)) ||
			(classApi !== null && (await classApi.isInstructor(req)));
		if (!allowed) {
			res.setHeader('WWW-Authenticate', 'Bearer realm="podlab metrics"');
			return sendError(res, 'LAB_ERR_INSTRUCTOR_AUTH');
		}
		const text = await metrics!.registry.metrics();
		res.writeHead(200, { 'Content-Type': metrics!.registry.contentType, 'Cache-Control': 'no-store' });
		res.end(text);
	}

	/** The reader's session: issues the cookie when missing, lists the reader's terminals. */
	function session(req: IncomingMessage, res: ServerResponse): void {
		// A foreign page may not even mint a session (the browser would store the cookie).
		if (req.headers.origin !== undefined && !policy!.isOriginAllowed(req.headers.origin)) return sendError(res, 'LAB_ERR_ORIGIN');
		res.setHeader('Cache-Control', 'no-store');
		let reader = readerFor(req);
		if (!reader && classApi) return sendError(res, 'LAB_ERR_JOIN_REQUIRED');
		if (!reader) {
			const issued = readers.issue();
			if (!issued) return sendError(res, 'LAB_ERR_LAB_FULL');
			reader = issued.reader;
			res.setHeader(
				'Set-Cookie',
				stringifySetCookie({ name: READER_COOKIE, value: issued.id, httpOnly: true, sameSite: 'strict', path: '/', secure: isHttps(req, config.trustProxy) }),
			);
		}
		sendJson(res, 200, {
			mode: config.mode,
			...(classApi ? { student: classApi.studentOf(reader) } : {}),
			terminals: [...reader.terminals.values()].map((terminal) => ({ name: terminal.name, busy: terminal.busy })),
		} satisfies SessionResponse);
	}

	server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
		socket.on('error', () => socket.destroy());
		const refuse = (code: ErrorCode) => {
			logger.info({ code, origin: req.headers.origin, host: req.headers.host }, 'upgrade refused');
			refuseUpgrade(socket, code);
		};
		const { pathname } = new URL(req.url ?? '/', 'http://gateway');
		if (pathname !== '/ws') return refuse('LAB_ERR_NOT_FOUND');
		if (!policy!.isHostAllowed(req.headers.host)) return refuse('LAB_ERR_HOST');
		if (!policy!.isOriginAllowed(req.headers.origin)) return refuse('LAB_ERR_ORIGIN');
		// The instructor (class mode, signed in) watches students' terminals; everyone else is a reader.
		const instructor = classApi?.hasInstructorCookie(req) ?? false;
		const reader = instructor ? readers.ensure('instructor', 'instructor') : readerFor(req);
		if (!reader) return refuse(classApi ? 'LAB_ERR_JOIN_REQUIRED' : 'LAB_ERR_NO_READER');
		if (!instructor && reader.sockets >= config.maxTerminalsPerReader * 4) return refuse('LAB_ERR_SOCKET_LIMIT');
		sockets.handleUpgrade(req, socket, head, (ws) => {
			reader.sockets++;
			ws.once('close', (code) => {
				metrics?.socketCloses.inc({ code: String(code) });
				reader.sockets--;
				reader.lastSeen = Date.now();
			});
			new Attachment(ws, reader, readers, limiter, logger, instructor);
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

function readerId(req: IncomingMessage): string | undefined {
	const header = req.headers.cookie;
	return header ? parseCookie(header)[READER_COOKIE] : undefined;
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

function createSshBackend(config: Config, logger: Logger): Promise<SshBackend> {
	return SshBackend.create({
		hosts: config.sshHosts!,
		identityFile: config.sshIdentityFile!,
		knownHostsFile: config.sshKnownHostsFile!,
		assignmentsFile: config.sshAssignmentsFile ?? join(config.stateDir, 'host-assignments.json'),
		connectTimeoutMs: config.sshConnectTimeoutMs,
		studentsPerHost: config.sshStudentsPerHost,
		logger,
	});
}

/** Fixed-length digests, so tokens of any length compare in constant time. */
function digestOf(token: string): Buffer {
	return createHash('sha256').update(token).digest();
}
