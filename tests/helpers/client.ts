/**
 * A protocol client for tests: a real `ws` WebSocket that attaches to a terminal, collects output
 * (acking it like xterm.js would, unless told not to) and waits for messages.
 */
import WebSocket from 'ws';
import { encodeClientMessage, type ClientMessage, type ServerMessage } from '../../src/protocol.ts';
import type { RunningGateway } from './gateway.ts';

export interface ClientOptions {
	term?: string;
	since?: number;
	/** Ack output as it arrives (default true); false simulates a stalled browser. */
	ack?: boolean;
	cookie?: string;
	origin?: string;
	/** Keep output for `text` (default true); floods only count it. */
	keep?: boolean;
	/** Sees every output chunk as it arrives. */
	onOutput?: (chunk: Buffer) => void;
	/** Extra fields of the attach message (an instructor's `student`). */
	attach?: { student?: string; term?: string; page?: string; tail?: number };
}

/** GET /api/session, as a page of the site asks (its Origin), and return the cookie header to send with the upgrade. */
export async function newReader(gateway: RunningGateway): Promise<string> {
	const response = await fetch(`${gateway.url}api/session`, { headers: { origin: gateway.origin } });
	if (!response.ok) throw new Error(`session refused: ${response.status} ${await response.text()}`);
	return response.headers.get('set-cookie')!.split(';')[0]!;
}

export class TestClient {
	readonly socket: WebSocket;
	readonly messages: ServerMessage[] = [];
	/** Total output bytes received on this socket. */
	received = 0;
	closeCode: number | null = null;
	closeReason = '';
	cookie = '';
	readonly #options: ClientOptions;
	#chunks: Buffer[] = [];
	#text: string | null = '';
	#listeners = new Set<() => void>();

	private constructor(socket: WebSocket, options: ClientOptions) {
		this.socket = socket;
		this.#options = options;
		socket.on('message', (data, isBinary) => {
			if (isBinary) {
				const chunk = data as Buffer;
				this.received += chunk.length;
				if (options.keep ?? true) {
					this.#chunks.push(chunk);
					this.#text = null;
				}
				options.onOutput?.(chunk);
				if (options.ack ?? true) this.#ackLater(chunk.length);
			} else {
				this.messages.push(JSON.parse(data.toString()));
			}
			this.#notify();
		});
		socket.on('close', (code, reason) => {
			this.closeCode = code;
			this.closeReason = reason.toString();
			this.#notify();
		});
	}

	/** Opens a socket (with a fresh reader unless a cookie is given) and attaches to a terminal. */
	static async connect(gateway: RunningGateway, options: ClientOptions = {}): Promise<TestClient> {
		const cookie = options.cookie ?? (await newReader(gateway));
		const socket = new WebSocket(gateway.wsUrl, { headers: { cookie, origin: options.origin ?? gateway.origin } });
		await new Promise((resolve, reject) => {
			socket.once('open', resolve);
			socket.once('unexpected-response', (_, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
			socket.once('error', reject);
		});
		const client = new TestClient(socket, options);
		client.cookie = cookie;
		client.send({ ...options.attach, t: 'attach', term: options.attach?.term ?? options.term ?? 'main', since: options.since ?? 0 });
		await client.waitFor(() => client.messages.some((message) => message.t === 'ready') || client.closeCode !== null, 10_000, 'ready');
		if (client.closeCode !== null) {
			const error = client.messages.find((message) => message.t === 'error');
			throw Object.assign(new Error(`attach refused: ${error?.t === 'error' ? error.code : 'no error message'}`), {
				code: error?.t === 'error' ? error.code : undefined,
				closeCode: client.closeCode,
			});
		}
		return client;
	}

	/** Acks are coalesced, as a browser acks per rendered batch rather than per frame. */
	#unacked = 0;
	#ackTimer: NodeJS.Timeout | null = null;
	#ackLater(bytes: number): void {
		this.#unacked += bytes;
		const flush = () => {
			if (this.#ackTimer) clearTimeout(this.#ackTimer);
			this.#ackTimer = null;
			if (this.#unacked > 0 && this.socket.readyState === this.socket.OPEN) this.send({ t: 'ack', bytes: this.#unacked });
			this.#unacked = 0;
		};
		if (this.#unacked >= 128 * 1024) flush();
		else this.#ackTimer ??= setTimeout(flush, 4);
	}

	send(message: ClientMessage): void {
		this.socket.send(encodeClientMessage(message));
	}

	type(text: string): void {
		this.socket.send(Buffer.from(text), { binary: true });
	}

	get output(): Buffer {
		return Buffer.concat(this.#chunks);
	}

	get text(): string {
		this.#text ??= this.output.toString('utf8');
		return this.#text;
	}

	/** Output since the ready message, with terminal escape sequences removed. */
	get plainText(): string {
		return this.text.replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g, '').replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\r/g, '');
	}

	/** Resolves when `predicate` holds (checked on every frame), rejects after `timeoutMs`. */
	waitFor<T>(predicate: () => T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
		return new Promise((resolve, reject) => {
			const check = () => {
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
		this.socket.close();
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
export async function joinClass(gateway: RunningGateway, name: string, code: string, headers: Record<string, string> = {}): Promise<JoinResult> {
	const response = await fetch(`${gateway.url}api/join`, {
		method: 'POST',
		headers: { 'content-type': 'application/json', origin: gateway.origin, ...headers },
		body: JSON.stringify({ name, code }),
	});
	const setCookie = response.headers.get('set-cookie');
	return { status: response.status, body: await response.json(), setCookie, cookie: setCookie?.split(';')[0] ?? null, headers: response.headers };
}
