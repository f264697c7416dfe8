/**
 * podlab's client of Incus's REST API (https://linuxcontainers.org/incus/docs/main/rest-api/), used
 * by `lab:setup` and by the gateway's `incus` backend. It speaks to one Incus server or cluster:
 * over the unix socket of a daemon on this machine, or over HTTPS with a client certificate for a
 * remote one, with the server's certificate pinned (Incus's certificates are self-signed; a cluster's
 * members share one).
 *
 * Why not a library: npm has no maintained Incus client (the old `lxd` package is abandoned), and
 * what podlab needs is small — JSON requests, operations, and exec websockets — on `node:http` and
 * `ws`. Why not the `incus` command: a Go client per terminal would cost ~20 MB of memory each and a
 * process start per request; one keep-alive connection pool serves a whole class.
 *
 * Everything has a deadline and a size bound: a request that Incus does not answer fails with
 * `IncusError` (`unreachable`), and no answer is read past {@link MAX_RESPONSE_BYTES}.
 */
import { createHash, X509Certificate } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import WebSocket from 'ws';
import { TailBytes } from '../lib/tail-bytes.ts';

/** Where Incus listens. */
export type IncusEndpoint =
	/** A daemon on this machine: its unix socket (`/var/lib/incus/unix.socket`). */
	| { socketPath: string }
	/** A remote server or cluster member: `https://host:8443`, podlab's client certificate and key, the server's certificate (PEM). */
	| { url: string; clientCert: string; clientKey: string; serverCert: string };

/** The longest answer podlab reads (a list of a thousand labs is ~3 MB). */
export const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;
/** How long a request may take unless its caller says otherwise. */
export const DEFAULT_TIMEOUT_MS = 15_000;

/** Incus did not answer, or answered with an error; `status` is Incus's HTTP status (null when it did not answer). */
export class IncusError extends Error {
	readonly code = 'LAB_ERR_INCUS';
	/** HTTP status of Incus's answer, or null when there was none. */
	readonly status: number | null;

	constructor(message: string, status: number | null, options?: ErrorOptions) {
		super(message, options);
		this.name = 'IncusError';
		this.status = status;
	}

	/** Incus could not be reached at all (not running, wrong address, no answer in time). */
	get unreachable(): boolean {
		return this.status === null;
	}

	get notFound(): boolean {
		return this.status === 404;
	}
}

/** An Incus operation, as `GET /1.0/operations/<id>` gives it. */
export interface IncusOperation {
	id: string;
	status: string;
	status_code: number;
	err: string;
	metadata: Record<string, unknown> | null;
	location?: string;
}

interface Envelope {
	type: 'sync' | 'async' | 'error';
	status_code: number;
	error?: string;
	error_code?: number;
	metadata: unknown;
	operation?: string;
}

export interface RequestOptions {
	body?: unknown;
	/** Raw body (an image tarball); sent as it is, with `headers`. */
	stream?: Readable | Buffer;
	headers?: Record<string, string>;
	/** Query parameters besides `project`. */
	query?: Record<string, string>;
	/** The project, or null for server-wide endpoints. @default the client's project */
	project?: string | null;
	timeoutMs?: number;
}

/** The pipes of a command run in an instance, as websocket streams. */
export interface ExecSession {
	/** Sends bytes to the command's stdin; false when the socket buffers more than its high-water mark. */
	write(data: Buffer): boolean;
	/** Bytes buffered for stdin and not yet sent. */
	readonly queuedBytes: number;
	/** Closes the command's stdin (EOF). */
	endInput(): void;
	/** Stops reading the command's stdout and stderr: the command then blocks on its writes. */
	pause(): void;
	resume(): void;
	/** Sends a signal to the command (through Incus). */
	signal(signal: number): void;
	/** Lets go of every socket at once; Incus then kills the command. Idempotent. */
	close(): void;
	/** Resolves with the command's exit status (-1 when unknown) once its output was read to the end or the session was closed. */
	readonly exited: Promise<number>;
}

export interface ExecHandlers {
	stdout(chunk: Buffer): void;
	stderr(chunk: Buffer): void;
	/** stdin may take more (after `write` returned false). */
	drain?(): void;
}

export interface ExecRequest {
	command: readonly string[];
	environment?: Record<string, string>;
	cwd?: string;
}

/** Result of {@link IncusApi.run}. */
export interface RunInInstanceResult {
	code: number;
	stdout: string;
	stderr: string;
}

/** What {@link IncusApi.run} keeps of each stream: the tail. */
const RUN_OUTPUT_BYTES = 1024 * 1024;

export class IncusApi {
	readonly endpoint: IncusEndpoint;
	/** The project podlab's instances, profiles and images live in. */
	readonly project: string;
	readonly #agent: http.Agent;
	readonly #pinned: string | null;

	constructor(endpoint: IncusEndpoint, project: string) {
		this.endpoint = endpoint;
		this.project = project;
		if ('socketPath' in endpoint) {
			this.#agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
			this.#pinned = null;
		} else {
			this.#pinned = certificateFingerprint(endpoint.serverCert);
			this.#agent = new https.Agent({ keepAlive: true, maxSockets: 32, ...this.#tlsOptions() });
		}
	}

	/** A description for logs and errors: the socket or the URL. */
	get address(): string {
		return 'socketPath' in this.endpoint ? this.endpoint.socketPath : this.endpoint.url;
	}

	/** The same server, another project. */
	inProject(project: string): IncusApi {
		return new IncusApi(this.endpoint, project);
	}

	/** Closes idle connections (the gateway stops). */
	close(): void {
		this.#agent.destroy();
	}

	/** `GET path`: the answer's metadata. @throws {IncusError} */
	async get<T>(path: string, options: Omit<RequestOptions, 'body' | 'stream'> = {}): Promise<T> {
		return (await this.request('GET', path, options)).metadata as T;
	}

	/**
	 * A request that may start an operation (POST, PUT, PATCH, DELETE): waits for the operation and
	 * returns its metadata, or the answer's metadata for a synchronous one.
	 * @throws {IncusError} when Incus refuses it or the operation fails.
	 */
	async call<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
		const started = performance.now();
		const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
		for (let attempt = 0; ; attempt++) {
			try {
				const answer = await this.request(method, path, options);
				if (answer.type !== 'async') return answer.metadata as T;
				const operation = answer.metadata as IncusOperation;
				const left = Math.max(1_000, timeoutMs - (performance.now() - started));
				return (await this.waitOperation(operation.id, left)).metadata as T;
			} catch (error) {
				// Incus takes one operation at a time per instance: another one (an update, a stop) is under way.
				const busy = error instanceof IncusError && /is busy running/.test(error.message);
				if (!busy || attempt >= 8 || options.stream || performance.now() - started > timeoutMs) throw error;
				await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 50 * 2 ** attempt)));
			}
		}
	}

	/** Waits for an operation to end. @throws {IncusError} when it failed or did not end in time. */
	async waitOperation(id: string, timeoutMs: number): Promise<IncusOperation> {
		const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
		const operation = await this.get<IncusOperation>(`/1.0/operations/${encodeURIComponent(id)}/wait`, {
			query: { timeout: String(seconds) },
			project: null,
			timeoutMs: timeoutMs + 5_000,
		});
		if (operation.status_code === 200) return operation;
		if (operation.status_code < 200) throw new IncusError(`Incus operation ${id} did not end within ${seconds}s`, null);
		throw new IncusError(operation.err || `Incus operation ${id} ended with ${operation.status}`, 500);
	}

	/**
	 * `GET path` as a stream, for answers too large to hold (an image's tarball): the caller reads it
	 * to the end or destroys it. @throws {IncusError} for an error answer.
	 */
	download(path: string, options: Pick<RequestOptions, 'project' | 'timeoutMs'> = {}): Promise<http.IncomingMessage> {
		const endpoint = this.endpoint;
		const base = 'socketPath' in endpoint ? { socketPath: endpoint.socketPath } : hostOptions(endpoint.url);
		const transport = 'socketPath' in endpoint ? http : https;
		const project = options.project === undefined ? this.project : options.project;
		const target = `${path}${project === null ? '' : `${path.includes('?') ? '&' : '?'}project=${encodeURIComponent(project)}`}`;
		return new Promise((resolve, reject) => {
			const request = transport.request({ ...base, method: 'GET', path: target, agent: this.#agent, timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS }, (response) => {
				if ((response.statusCode ?? 500) < 400) return resolve(response);
				response.resume();
				reject(new IncusError(`GET ${path}: HTTP ${response.statusCode}`, response.statusCode ?? 500));
			});
			request.on('timeout', () => request.destroy(new Error('no answer in time')));
			request.on('error', (cause) => reject(new IncusError(`Incus at ${this.address} cannot be reached (${cause.message})`, null, { cause })));
			request.end();
		});
	}

	/** Sends one request and reads its JSON answer. @throws {IncusError} for an error answer or none at all. */
	async request(method: string, path: string, options: RequestOptions = {}): Promise<Envelope> {
		const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
		const query = new URLSearchParams(options.query);
		const project = options.project === undefined ? this.project : options.project;
		if (project !== null) query.set('project', project);
		const target = `${path}${query.size > 0 ? `${path.includes('?') ? '&' : '?'}${query}` : ''}`;
		const headers: Record<string, string> = { ...options.headers };
		let payload: Buffer | Readable | undefined;
		if (options.stream !== undefined) payload = options.stream;
		else if (options.body !== undefined) {
			payload = Buffer.from(JSON.stringify(options.body));
			headers['content-type'] = 'application/json';
		}
		const { status, body } = await this.#send(method, target, headers, payload, timeoutMs);
		let envelope: Envelope;
		try {
			envelope = JSON.parse(body.toString('utf8')) as Envelope;
		} catch (cause) {
			throw new IncusError(`Incus answered ${method} ${path} with something that is not JSON (HTTP ${status})`, status, { cause });
		}
		if (envelope.type === 'error' || status >= 400) {
			throw new IncusError(`${method} ${path}: ${envelope.error || `HTTP ${status}`}`, envelope.error_code ?? status);
		}
		return envelope;
	}

	#send(method: string, target: string, headers: Record<string, string>, payload: Buffer | Readable | undefined, timeoutMs: number): Promise<{ status: number; body: Buffer }> {
		const endpoint = this.endpoint;
		const base = 'socketPath' in endpoint ? { socketPath: endpoint.socketPath } : hostOptions(endpoint.url);
		const transport = 'socketPath' in endpoint ? http : https;
		return new Promise((resolve, reject) => {
			const fail = (message: string, cause?: unknown) => reject(new IncusError(`Incus at ${this.address} ${message}`, null, { cause }));
			const request = transport.request({ ...base, method, path: target, headers, agent: this.#agent, signal: AbortSignal.timeout(Math.ceil(timeoutMs)) }, (response) => {
				const chunks: Buffer[] = [];
				let length = 0;
				response.on('data', (chunk: Buffer) => {
					length += chunk.length;
					if (length > MAX_RESPONSE_BYTES) {
						response.destroy();
						fail(`sent more than ${MAX_RESPONSE_BYTES} bytes for ${method} ${target}`);
						return;
					}
					chunks.push(chunk);
				});
				response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
				response.on('error', (cause) => fail(`broke off its answer to ${method} ${target}`, cause));
			});
			request.on('error', (cause: NodeJS.ErrnoException) => {
				if (cause.name === 'AbortError' || cause.name === 'TimeoutError') fail(`did not answer ${method} ${target} within ${Math.round(timeoutMs / 1000)}s`, cause);
				else fail(`cannot be reached (${cause.code ?? cause.message})`, cause);
			});
			if (payload === undefined) request.end();
			else if (Buffer.isBuffer(payload)) request.end(payload);
			else {
				payload.on('error', (cause) => request.destroy(cause));
				payload.pipe(request);
			}
		});
	}

	/**
	 * Writes a file into an instance (through Incus, which resolves the path inside the instance).
	 * `append` adds to an existing file instead of replacing it.
	 */
	async pushFile(instance: string, path: string, content: Buffer | Readable, options: { mode?: number; append?: boolean; timeoutMs?: number } = {}): Promise<void> {
		await this.request('POST', `/1.0/instances/${encodeURIComponent(instance)}/files`, {
			query: { path },
			stream: content,
			headers: {
				'content-type': 'application/octet-stream',
				'x-incus-type': 'file',
				'x-incus-uid': '0',
				'x-incus-gid': '0',
				'x-incus-mode': (options.mode ?? 0o644).toString(8).padStart(4, '0'),
				'x-incus-write': options.append ? 'append' : 'overwrite',
			},
			timeoutMs: options.timeoutMs,
		});
	}

	/**
	 * Runs `command` in `instance` and collects its output (the last MiB of each stream), with a
	 * deadline: past it the command is ended and the result says so with code 124.
	 */
	async run(instance: string, request: ExecRequest & { input?: string | Buffer; timeoutMs?: number }): Promise<RunInInstanceResult> {
		const out = new TailBytes(RUN_OUTPUT_BYTES);
		const err = new TailBytes(RUN_OUTPUT_BYTES);
		const timeoutMs = request.timeoutMs ?? 30_000;
		const session = await this.exec(instance, request, { stdout: (chunk) => out.push(chunk), stderr: (chunk) => err.push(chunk) }, timeoutMs);
		if (request.input !== undefined) session.write(Buffer.from(request.input));
		session.endInput();
		let timer: NodeJS.Timeout | undefined;
		const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, timeoutMs, 'timeout')));
		const outcome = await Promise.race([session.exited, timedOut]);
		clearTimeout(timer);
		const [stdout, stderr] = [out.text(), err.text()];
		if (outcome === 'timeout') {
			session.close();
			return { code: 124, stdout, stderr: `${stderr}${stderr && !stderr.endsWith('\n') ? '\n' : ''}timed out after ${Math.round(timeoutMs / 1000)}s` };
		}
		return { code: outcome, stdout, stderr };
	}

	/**
	 * Starts `command` in `instance` with pipes (not a terminal) and connects its websockets.
	 * @throws {IncusError} when Incus refuses it or the sockets do not connect within `timeoutMs`.
	 */
	async exec(instance: string, request: ExecRequest, handlers: ExecHandlers, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ExecSession> {
		const answer = await this.request('POST', `/1.0/instances/${encodeURIComponent(instance)}/exec`, {
			body: {
				command: request.command,
				environment: request.environment ?? {},
				cwd: request.cwd,
				interactive: false,
				'wait-for-websocket': true,
				'record-output': false,
			},
			timeoutMs,
		});
		const operation = answer.metadata as IncusOperation;
		const fds = (operation.metadata as { fds?: Record<string, string> } | null)?.fds;
		if (!fds?.['0'] || !fds['1'] || !fds['2'] || !fds.control) throw new IncusError(`Incus gave no exec sockets for ${instance}`, 500);
		// Incus starts the command once it has all four sockets, which may be before this side has seen
		// the last of them open: output is taken from the moment each socket exists, or it would be lost.
		const onMessage: Record<string, ((data: Buffer, binary: boolean) => void) | undefined> = {
			'1': (data, binary) => binary && data.length > 0 && handlers.stdout(data),
			'2': (data, binary) => binary && data.length > 0 && handlers.stderr(data),
		};
		const socket = (fd: string) => this.#execSocket(`/1.0/operations/${encodeURIComponent(operation.id)}/websocket?secret=${fds[fd]}`, timeoutMs, onMessage[fd]);
		// The control socket first: Incus starts the command once it has the three others, and a short
		// command's operation can end before a control socket asked for after them is taken (Incus then
		// refuses it: "Only running operations can be connected", 5 execs in 2000 here).
		const first = await Promise.allSettled([socket('control')]);
		const sockets = first[0]!.status === 'rejected' ? first : [...(await Promise.allSettled(['0', '1', '2'].map(socket))), ...first];
		const failed = sockets.find((socket) => socket.status === 'rejected');
		if (failed) {
			for (const socket of sockets) if (socket.status === 'fulfilled') socket.value.terminate();
			throw new IncusError(`cannot connect to the exec in ${instance}: ${(failed.reason as Error).message}`, null, { cause: failed.reason });
		}
		const [stdin, stdout, stderr, control] = sockets.map((socket) => (socket as PromiseFulfilledResult<WebSocket>).value) as [WebSocket, WebSocket, WebSocket, WebSocket];
		return new WebSocketExec(this, operation.id, { stdin, stdout, stderr, control }, handlers);
	}

	/**
	 * One of an exec's websockets, asked for again (up to five times within the deadline) if Incus
	 * refuses it because the operation is not running: one that is still being set up under load
	 * will be; one that ended is refused each time.
	 */
	async #execSocket(path: string, timeoutMs: number, onMessage?: (data: Buffer, binary: boolean) => void): Promise<WebSocket> {
		const deadline = Date.now() + timeoutMs;
		for (let attempt = 0; ; attempt++) {
			try {
				return await this.#websocket(path, timeoutMs, onMessage);
			} catch (error) {
				const wait = 20 * 2 ** attempt;
				if (!/Only running operations/.test((error as Error).message) || attempt >= 5 || Date.now() + wait > deadline) throw error;
				await new Promise((resolve) => setTimeout(resolve, wait));
			}
		}
	}

	#websocket(path: string, timeoutMs: number, onMessage?: (data: Buffer, binary: boolean) => void): Promise<WebSocket> {
		const endpoint = this.endpoint;
		const socket =
			'socketPath' in endpoint
				? new WebSocket(`ws+unix://${endpoint.socketPath}:${path}`, { handshakeTimeout: timeoutMs, perMessageDeflate: false })
				: new WebSocket(`${endpoint.url.replace(/^http/, 'ws')}${path}`, { handshakeTimeout: timeoutMs, perMessageDeflate: false, ...this.#tlsOptions() });
		if (onMessage) socket.on('message', onMessage);
		return new Promise((resolve, reject) => {
			socket.once('open', () => {
				socket.removeAllListeners('error');
				socket.on('error', () => {});
				resolve(socket);
			});
			socket.once('error', reject);
			// Incus says why it refused (a JSON error of at most a few hundred bytes).
			socket.once('unexpected-response', (_request, response) => {
				let body = '';
				response.setEncoding('utf8');
				response.on('data', (chunk: string) => (body = (body + chunk).slice(0, 1024)));
				response.on('end', () => {
					const said = (() => {
						try {
							return (JSON.parse(body) as { error?: string }).error;
						} catch {
							return undefined;
						}
					})();
					reject(new Error(`Unexpected server response: ${response.statusCode}${said ? ` (${said})` : ''}`));
				});
				response.on('error', () => reject(new Error(`Unexpected server response: ${response.statusCode}`)));
			});
		});
	}

	/** TLS options of a remote endpoint: podlab's client certificate, and only the pinned server certificate is accepted. */
	#tlsOptions(): https.AgentOptions {
		const endpoint = this.endpoint as Extract<IncusEndpoint, { url: string }>;
		const pinned = this.#pinned!;
		return {
			cert: endpoint.clientCert,
			key: endpoint.clientKey,
			ca: endpoint.serverCert,
			// The pin decides, not the name: Incus's certificates name the machine, not the address it is reached at.
			checkServerIdentity: (_host, certificate) =>
				certificate.fingerprint256?.replaceAll(':', '').toLowerCase() === pinned ? undefined : new Error(`the server's certificate is not the pinned one (${pinned.slice(0, 16)}…)`),
		};
	}
}

/** SHA-256 fingerprint of a PEM certificate, lower-case hex without colons (as `incus info` prints it). */
export function certificateFingerprint(pem: string): string {
	return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

function hostOptions(url: string): { hostname: string; port: number } {
	const parsed = new URL(url);
	return { hostname: parsed.hostname, port: Number(parsed.port || 8443) };
}

interface ExecSockets {
	stdin: WebSocket;
	stdout: WebSocket;
	stderr: WebSocket;
	control: WebSocket;
}

/** Input buffered towards a command before `write` asks its caller to wait. */
const EXEC_INPUT_HIGH_WATER = 64 * 1024;

/** An exec's four websockets: stdin, stdout and stderr carry bytes; control carries signals. */
class WebSocketExec implements ExecSession {
	readonly exited: Promise<number>;
	readonly #api: IncusApi;
	readonly #operation: string;
	readonly #sockets: ExecSockets;
	readonly #onDrain: (() => void) | undefined;
	#drainPending = false;
	#closed = false;

	constructor(api: IncusApi, operation: string, sockets: ExecSockets, handlers: Pick<ExecHandlers, 'drain'>) {
		this.#api = api;
		this.#operation = operation;
		this.#sockets = sockets;
		// Output reaches `handlers` from the sockets' first message on (IncusApi.exec): Incus sends it as
		// binary messages and marks the end of a stream with an empty text one.
		this.#onDrain = handlers.drain;
		const ended = (socket: WebSocket) => new Promise<void>((resolve) => (socket.readyState === WebSocket.CLOSED ? resolve() : socket.once('close', () => resolve())));
		this.exited = Promise.all([ended(sockets.stdout), ended(sockets.stderr)]).then(() => this.#exitStatus());
		void this.exited.then(() => this.close());
	}

	write(data: Buffer): boolean {
		const socket = this.#sockets.stdin;
		if (socket.readyState !== WebSocket.OPEN) return true;
		// ws has no 'drain' of its own: a send's callback runs once its bytes are written out.
		socket.send(data, { binary: true }, () => this.#checkDrain());
		const ok = socket.bufferedAmount <= EXEC_INPUT_HIGH_WATER;
		if (!ok) this.#drainPending = true;
		return ok;
	}

	get queuedBytes(): number {
		return this.#sockets.stdin.bufferedAmount;
	}

	endInput(): void {
		const socket = this.#sockets.stdin;
		// An empty text message is Incus's end of a stream.
		if (socket.readyState === WebSocket.OPEN) socket.send('', { binary: false });
	}

	pause(): void {
		this.#sockets.stdout.pause();
		this.#sockets.stderr.pause();
	}

	resume(): void {
		this.#sockets.stdout.resume();
		this.#sockets.stderr.resume();
	}

	signal(signal: number): void {
		const socket = this.#sockets.control;
		if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ command: 'signal', signal }));
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		// Incus kills the command when its control socket goes; the rest are this gateway's own ends.
		for (const socket of Object.values(this.#sockets)) socket.terminate();
	}

	#checkDrain(): void {
		if (this.#drainPending && this.#sockets.stdin.bufferedAmount <= EXEC_INPUT_HIGH_WATER / 2) {
			this.#drainPending = false;
			this.#onDrain?.();
		}
	}

	async #exitStatus(): Promise<number> {
		if (this.#closed) return -1;
		try {
			const operation = await this.#api.waitOperation(this.#operation, 5_000);
			const status = (operation.metadata as { return?: unknown } | null)?.return;
			return typeof status === 'number' ? status : -1;
		} catch {
			return -1;
		}
	}
}
