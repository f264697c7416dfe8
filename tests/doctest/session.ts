/**
 * Runs doc blocks the way a reader's clicks do: one reader session on the gateway, one WebSocket per
 * named terminal, `run` messages, output acked as it arrives, and `done` for the exit status.
 */
import { StringDecoder } from 'node:string_decoder';
import WebSocket from 'ws';
import { encodeClientMessage, type ClientMessage, type ServerMessage } from '../../src/protocol.ts';
import type { DocBlock } from '../../src/chapters/collect-blocks.ts';
import { commandOutput, plainText } from './terminal-text.ts';

export const DEFAULT_TIMEOUT_SECONDS = 60;

export interface BlockResult {
	block: DocBlock;
	/** null when the block did not finish (timeout, or an `until` block left running). */
	exit: number | null;
	/** What the command printed, as plain text. */
	output: string;
	durationMs: number;
	/** Why the block failed; undefined when it passed. */
	problem?: string;
}

export class DocTestSession {
	readonly #gatewayUrl: URL;
	readonly #cookie: string;
	readonly #terminals = new Map<string, TerminalSocket>();

	private constructor(gatewayUrl: URL, cookie: string) {
		this.#gatewayUrl = gatewayUrl;
		this.#cookie = cookie;
	}

	/** A new reader on the gateway at `gatewayUrl` (e.g. http://127.0.0.1:4321/). */
	static async open(gatewayUrl: string): Promise<DocTestSession> {
		const url = new URL(gatewayUrl);
		// The gateway issues readers only to its own pages: say so as a page would, with its Origin.
		const response = await fetch(new URL('/api/session', url), { headers: { origin: url.origin } }).catch((cause: Error) => {
			throw new Error(`no gateway at ${url.origin} (${cause.message}): start it with \`npm start\` or leave out --url`, { cause });
		});
		const cookie = response.headers.get('set-cookie')?.split(';')[0];
		if (!response.ok || !cookie) throw new Error(`the gateway at ${url.origin} gave no session: HTTP ${response.status} ${await response.text()}`);
		return new DocTestSession(url, cookie);
	}

	/** Runs one block and checks its exit status and `expect`; `until` blocks are left running once they match. */
	async run(block: DocBlock, defaultTimeoutSeconds = DEFAULT_TIMEOUT_SECONDS): Promise<BlockResult> {
		const terminal = await this.#terminal(block.term);
		const timeoutMs = (block.test.timeout ?? defaultTimeoutSeconds) * 1000;
		const started = performance.now();
		const outcome = await terminal.run(block, timeoutMs);
		const durationMs = performance.now() - started;
		const output = block.test.until ? afterCommandStart(outcome.raw) : plainText(commandOutput(outcome.raw));
		const result: BlockResult = { block, exit: outcome.exit, output, durationMs };
		if (outcome.problem) result.problem = outcome.problem;
		else if (!block.test.until && outcome.exit !== block.test.exit) result.problem = `exit status ${outcome.exit}, expected ${block.test.exit}`;
		else if (block.test.expect && !new RegExp(block.test.expect, 'm').test(output)) result.problem = `output does not match expect="${block.test.expect}"`;
		return result;
	}

	close(): void {
		for (const terminal of this.#terminals.values()) terminal.close();
		this.#terminals.clear();
	}

	async #terminal(name: string): Promise<TerminalSocket> {
		let terminal = this.#terminals.get(name);
		if (!terminal || terminal.closed) {
			terminal = await TerminalSocket.attach(this.#gatewayUrl, this.#cookie, name);
			this.#terminals.set(name, terminal);
		}
		return terminal;
	}
}

/** One attached terminal. Output is kept only from the current run on. */
class TerminalSocket {
	readonly #socket: WebSocket;
	/** Keeps a UTF-8 character split across frames whole. */
	readonly #decoder = new StringDecoder('utf8');
	#raw = '';
	#messages: ServerMessage[] = [];
	#onEvent: (() => void) | null = null;
	#unacked = 0;
	#ackTimer: NodeJS.Timeout | null = null;
	closed = false;
	closeReason = '';

	private constructor(socket: WebSocket) {
		this.#socket = socket;
		socket.on('message', (data, isBinary) => {
			if (isBinary) {
				const chunk = data as Buffer;
				this.#raw += this.#decoder.write(chunk);
				this.#ack(chunk.length);
			} else {
				this.#messages.push(JSON.parse(data.toString()) as ServerMessage);
			}
			this.#onEvent?.();
		});
		socket.on('close', (code, reason) => {
			this.closed = true;
			this.closeReason = `${code} ${reason.toString()}`;
			this.#onEvent?.();
		});
	}

	static async attach(gatewayUrl: URL, cookie: string, term: string): Promise<TerminalSocket> {
		const wsUrl = new URL('/ws', gatewayUrl);
		wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';
		const socket = new WebSocket(wsUrl, { headers: { cookie, origin: gatewayUrl.origin } });
		await new Promise<void>((resolve, reject) => {
			socket.once('open', () => resolve());
			socket.once('unexpected-response', (_, response) => reject(new Error(`the gateway refused the terminal socket: HTTP ${response.statusCode}`)));
			socket.once('error', reject);
		});
		const terminal = new TerminalSocket(socket);
		terminal.#send({ t: 'attach', term, since: 0 });
		terminal.#send({ t: 'resize', cols: 120, rows: 40 });
		await terminal.#until(() => terminal.#messages.some((message) => message.t === 'ready'), 15_000);
		return terminal;
	}

	/** Sends the block and waits for its `done` (or, for `until`, for the output to match). */
	async run(block: DocBlock, timeoutMs: number): Promise<{ exit: number | null; raw: string; problem?: string }> {
		this.#raw = '';
		this.#messages = [];
		this.#send({ t: 'run', code: block.code, block: block.id, ...(block.interrupt ? { interrupt: true } : {}) });
		const until = block.test.until ? new RegExp(block.test.until, 'm') : null;
		const finished = await this.#until(() => {
			if (this.closed) return true;
			if (this.#messages.some((message) => message.t === 'error' || (message.t === 'done' && message.block === block.id))) return true;
			// Only what the command printed counts: before OSC 133 C there is only its echo.
			return until !== null && until.test(afterCommandStart(this.#raw));
		}, timeoutMs);
		const raw = this.#raw;
		const error = this.#messages.find((message) => message.t === 'error');
		const done = this.#messages.find((message) => message.t === 'done' && message.block === block.id);
		if (this.closed) return { exit: null, raw, problem: `the terminal closed (${this.closeReason})` };
		if (error?.t === 'error') return { exit: null, raw, problem: `the gateway answered ${error.code}: ${error.message}` };
		if (done?.t === 'done') return { exit: done.exit, raw };
		if (finished && until) return { exit: null, raw };
		// Leave the terminal usable for the next block.
		this.#send({ t: 'signal', name: 'SIGINT' });
		return { exit: null, raw, problem: `no result within ${timeoutMs / 1000} s${until ? ` (waiting for until="${block.test.until}")` : ''}` };
	}

	close(): void {
		this.#socket.close();
	}

	#send(message: ClientMessage): void {
		this.#socket.send(encodeClientMessage(message));
	}

	/** Acks once per batch, as xterm.js does per render, to stay far below the gateway's message rate. */
	#ack(bytes: number): void {
		this.#unacked += bytes;
		this.#ackTimer ??= setTimeout(() => {
			this.#ackTimer = null;
			if (!this.closed) this.#send({ t: 'ack', bytes: this.#unacked });
			this.#unacked = 0;
		}, 5);
	}

	/** Resolves true once `condition` holds (checked on every frame), false after `timeoutMs`. */
	#until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
		return new Promise((resolve) => {
			const finish = (value: boolean) => {
				clearTimeout(timer);
				this.#onEvent = null;
				resolve(value);
			};
			const timer = setTimeout(() => finish(false), timeoutMs);
			this.#onEvent = () => {
				if (condition()) finish(true);
			};
			this.#onEvent();
		});
	}
}

/** Plain text of what a still-running command printed so far: after OSC 133 C, or nothing before it. */
function afterCommandStart(raw: string): string {
	const start = raw.search(/\x1b\]133;C;/);
	return start < 0 ? '' : plainText(raw.slice(raw.indexOf('\x07', start) + 1));
}
