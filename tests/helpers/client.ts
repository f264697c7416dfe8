/**
 * The one Node client of podlab's wire protocol (src/protocol.ts), shared by the integration tests,
 * the doc-test runner (tests/doctest/session.ts) and the bench (bench/lib/podlab.ts): a real `ws`
 * WebSocket that attaches to a terminal, collects its output, acknowledges it the way the site does
 * (src/terminal/connection/ack-coalescer.ts) unless told otherwise, and waits for messages.
 *
 * It imports no test framework: `npm run docs:test` and `npm run bench` load it outside vitest.
 */
import WebSocket from 'ws';
import { encodeClientMessage, serverMessage, type ClientMessage, type ServerMessage } from '../../src/protocol.ts';
import { AckCoalescer, type Scheduler } from '../../src/terminal/connection/ack-coalescer.ts';
import { plainText } from '../doctest/terminal-text.ts';
import type { RunningGateway } from './gateway.ts';

/** Where a gateway listens: a {@link RunningGateway}, or {@link gatewayAt} for one started elsewhere. */
export type GatewayAddress = Pick<RunningGateway, 'url' | 'wsUrl' | 'origin'>;

/** The address of the gateway serving `url` (e.g. http://127.0.0.1:4321/). */
export function gatewayAt(url: string | URL): GatewayAddress {
	const base = new URL('/', url);
	const ws = new URL('/ws', base);
	ws.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
	return { url: base.href, wsUrl: ws.href, origin: base.origin };
}

/**
 * How a client acknowledges the output it rendered (rendering is instant here):
 * - `site`: as the site's panel does — {@link AckCoalescer} in batches of the `ackBytes` the
 *   gateway's `ready` gives, no timer: typing costs no acks.
 * - `xterm`: as the xterm.js flow-control guide (and ttyd) do it — one write callback, hence one
 *   ack, per 100,000 bytes, the remainder on the next frame (the comparison the benchmarks report).
 */
export type AckPolicy = 'site' | 'xterm';

/** Bytes between write callbacks in the xterm.js flow-control guide (its CALLBACK_BYTE_LIMIT). */
const XTERM_CALLBACK_BYTES = 100_000;

/** A timer standing in for requestAnimationFrame (Node has none). */
function frameTimer(frameMs: number): Scheduler {
	return (callback) => {
		const timer = setTimeout(callback, frameMs);
		return () => clearTimeout(timer);
	};
}

export interface ClientOptions {
	term?: string;
	since?: number;
	/** How output is acknowledged; false never acks, as a stalled browser. @default 'site' */
	ack?: AckPolicy | false;
	/**
	 * The `xterm` policy's animation frame: how long a remainder below 100,000 bytes waits. A page
	 * renders at 60 Hz (16 ms, what the bench measures); the tests render at once and keep floods fast
	 * with less. @default 4
	 */
	frameMs?: number;
	cookie?: string;
	origin?: string;
	/** Keep output for `output`/`text` (default true); floods only count it. */
	keep?: boolean;
	/** Sees every output chunk as it arrives, from the first one. */
	onOutput?: (chunk: Buffer) => void;
	/** Extra fields of the attach message (an instructor's `student`). */
	attach?: { student?: string; term?: string; page?: string; tail?: number };
	/** Sent right after the attach, as a page sends the size of its fitted terminal. */
	size?: { cols: number; rows: number };
	/** How long to wait for `ready`. @default 10000 */
	readyTimeoutMs?: number;
}

/** GET /api/session, as a page of the site asks (its Origin), and return the cookie header to send with the upgrade. */
export async function newReader(gateway: GatewayAddress): Promise<string> {
	const response = await fetch(new URL('api/session', gateway.url), { headers: { origin: gateway.origin } });
	const cookie = response.headers.get('set-cookie')?.split(';')[0];
	if (!response.ok || !cookie) throw new Error(`session refused: ${response.status} ${await response.text()}`);
	return cookie;
}

export class TestClient {
	readonly socket: WebSocket;
	readonly messages: ServerMessage[] = [];
	/** Total output bytes received on this socket, and in how many frames. */
	received = 0;
	frames = 0;
	/** Acks sent. */
	acks = 0;
	closeCode: number | null = null;
	closeReason = '';
	/** The socket's error (it closes after one), if it had one. */
	socketError: Error | null = null;
	/** A text frame that is not a server message of the protocol, if the gateway sent one. */
	violation: string | null = null;
	readonly cookie: string;
	#chunks: Buffer[] = [];
	#text: string | null = '';
	#listeners = new Set<() => void>();
	readonly #options: ClientOptions;
	/** Acks output once `ready` said how (null before, and when told never to ack). */
	#acker: AckCoalescer | null = null;

	private constructor(socket: WebSocket, cookie: string, options: ClientOptions) {
		this.socket = socket;
		this.cookie = cookie;
		this.#options = options;
		socket.on('message', (data, isBinary) => {
			if (isBinary) {
				const chunk = data as Buffer;
				this.received += chunk.length;
				this.frames++;
				if (options.keep ?? true) {
					this.#chunks.push(chunk);
					this.#text = null;
				}
				options.onOutput?.(chunk);
				this.#acker?.rendered(chunk.length);
			} else {
				this.#receive(data.toString());
			}
			this.#notify();
		});
		socket.on('error', (error) => {
			this.socketError ??= error;
		});
		socket.on('close', (code, reason) => {
			this.#acker?.discard();
			this.closeCode = code;
			this.closeReason = reason.toString();
			this.#notify();
		});
	}

	/** Opens a socket (with a fresh reader unless a cookie is given) and attaches to a terminal; resolves at `ready`. */
	static async connect(gateway: GatewayAddress, options: ClientOptions = {}): Promise<TestClient> {
		const cookie = options.cookie ?? (await newReader(gateway));
		// The gateway negotiates no compression; offering none saves the handshake a header.
		const socket = new WebSocket(gateway.wsUrl, { headers: { cookie, origin: options.origin ?? gateway.origin }, perMessageDeflate: false });
		await new Promise((resolve, reject) => {
			socket.once('open', resolve);
			socket.once('unexpected-response', (_, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
			socket.once('error', reject);
		});
		const client = new TestClient(socket, cookie, options);
		client.send({ ...options.attach, t: 'attach', term: options.attach?.term ?? options.term ?? 'main', since: options.since ?? 0 });
		if (options.size) client.send({ t: 'resize', ...options.size });
		await client.waitFor(() => client.messages.some((message) => message.t === 'ready') || client.closeCode !== null, options.readyTimeoutMs ?? 10_000, 'ready');
		if (client.closeCode !== null) {
			const error = client.messages.find((message) => message.t === 'error');
			throw Object.assign(new Error(`attach refused: ${error?.t === 'error' ? error.code : 'no error message'}`), {
				code: error?.t === 'error' ? error.code : undefined,
				closeCode: client.closeCode,
			});
		}
		return client;
	}

	send(message: ClientMessage): void {
		this.socket.send(encodeClientMessage(message));
	}

	type(text: string): void {
		this.socket.send(Buffer.from(text), { binary: true });
	}

	/** Milliseconds from typing `key` to seeing it echoed. */
	async echoRoundTrip(key: string, timeoutMs = 10_000): Promise<number> {
		const before = this.received;
		const started = performance.now();
		this.type(key);
		await this.waitFor(() => (this.received > before && this.output.subarray(before).includes(key)) || undefined, timeoutMs, `echo of ${key}`);
		return performance.now() - started;
	}

	get closed(): boolean {
		return this.closeCode !== null;
	}

	get output(): Buffer {
		return Buffer.concat(this.#chunks);
	}

	get text(): string {
		this.#text ??= this.output.toString('utf8');
		return this.#text;
	}

	/** Output since the ready message as a reader would read it (tests/doctest/terminal-text.ts). */
	get plainText(): string {
		return plainText(this.text);
	}

	/** Resolves when `predicate` holds (checked on every frame), rejects after `timeoutMs`. */
	waitFor<T>(predicate: () => T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
		return new Promise((resolve, reject) => {
			const check = () => {
				if (this.violation !== null) {
					cleanup();
					reject(new Error(`the gateway broke the protocol while waiting for ${what}: ${this.violation}`));
					return;
				}
				const value = predicate();
				if (value) {
					cleanup();
					resolve(value);
				}
			};
			const timer = setTimeout(() => {
				cleanup();
				reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; close code ${this.closeCode}; last message ${JSON.stringify(this.messages.at(-1))}; output tail: ${JSON.stringify(this.plainText.slice(-400))}`));
			}, timeoutMs);
			const cleanup = () => {
				clearTimeout(timer);
				this.#listeners.delete(check);
			};
			this.#listeners.add(check);
			check();
		});
	}

	/** The first message of type `type` from index `from` of {@link messages} on (`messages.length`: from now on). */
	waitForMessage<K extends ServerMessage['t']>(type: K, timeoutMs = 10_000, from = 0): Promise<Extract<ServerMessage, { t: K }>> {
		return this.waitFor(
			() => this.messages.slice(from).find((message) => message.t === type) as Extract<ServerMessage, { t: K }> | undefined,
			timeoutMs,
			`a "${type}" message`,
		);
	}

	waitForText(pattern: string | RegExp, timeoutMs = 10_000): Promise<true> {
		return this.waitFor(() => (typeof pattern === 'string' ? this.plainText.includes(pattern) : pattern.test(this.plainText)) || undefined, timeoutMs, `output ${pattern}`);
	}

	waitForClose(timeoutMs = 10_000): Promise<number> {
		return this.waitFor(() => this.closeCode ?? undefined, timeoutMs, 'close');
	}

	/** Runs a block and waits for its `done`. */
	async run(code: string, block = 'b', timeoutMs = 20_000): Promise<Extract<ServerMessage, { t: 'done' }>> {
		const from = this.messages.length;
		this.send({ t: 'run', code, block });
		return this.waitFor(
			() => this.messages.slice(from).find((message) => message.t === 'done' && message.block === block) as Extract<ServerMessage, { t: 'done' }> | undefined,
			timeoutMs,
			`done for block ${block}`,
		);
	}

	close(): void {
		this.#acker?.discard();
		this.socket.close();
	}

	#receive(text: string): void {
		let parsed: ReturnType<typeof serverMessage.safeParse>;
		try {
			parsed = serverMessage.safeParse(JSON.parse(text));
		} catch {
			this.violation = `not JSON: ${text.slice(0, 200)}`;
			return;
		}
		if (parsed.success) {
			this.messages.push(parsed.data);
			if (parsed.data.t === 'ready') this.#acker = this.#ackerFor(parsed.data.ackBytes);
		} else this.violation = `${parsed.error.issues[0]?.message} in ${text.slice(0, 200)}`;
	}

	#ackerFor(ackBytes: number): AckCoalescer | null {
		const ack = this.#options.ack ?? 'site';
		if (ack === false) return null;
		const send = (bytes: number) => {
			if (this.socket.readyState !== WebSocket.OPEN) return;
			this.acks++;
			this.send({ t: 'ack', bytes });
		};
		return new AckCoalescer(
			send,
			ack === 'site' ? { batchBytes: ackBytes } : { batchBytes: XTERM_CALLBACK_BYTES, remainder: frameTimer(this.#options.frameMs ?? 4) },
		);
	}

	#notify(): void {
		for (const listener of [...this.#listeners]) listener();
	}
}

export interface JoinResult {
	status: number;
	/** The gateway's JSON answer: `{id, name}`, or `{code, message}`. */
	body: Record<string, unknown> & { id?: string; code?: string; message?: string };
	/** The Set-Cookie header as sent, or null. */
	setCookie: string | null;
	/** `podlab_student=…`, ready for a Cookie header, or null when refused. */
	cookie: string | null;
	headers: Headers;
}

/** Joins a class-mode gateway as `name`, the way /join/ does. */
export async function joinClass(gateway: GatewayAddress, name: string, code: string, headers: Record<string, string> = {}): Promise<JoinResult> {
	const response = await fetch(new URL('api/join', gateway.url), {
		method: 'POST',
		headers: { 'content-type': 'application/json', origin: gateway.origin, ...headers },
		body: JSON.stringify({ name, code }),
	});
	const setCookie = response.headers.get('set-cookie');
	return { status: response.status, body: await response.json(), setCookie, cookie: setCookie?.split(';')[0] ?? null, headers: response.headers };
}
