/**
 * Runs doc blocks the way a reader's clicks do: one reader session on the gateway, one WebSocket per
 * named terminal (the protocol client of tests/helpers/client.ts, acking as the site does), `run`
 * messages, and `done` for the exit status.
 */
import { StringDecoder } from 'node:string_decoder';
import type { DocBlock } from '../../src/chapters/collect-blocks.ts';
import { gatewayAt, newReader, TestClient, type GatewayAddress } from '../helpers/client.ts';
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
	readonly #gateway: GatewayAddress;
	readonly #cookie: string;
	readonly #terminals = new Map<string, TerminalSocket>();

	private constructor(gateway: GatewayAddress, cookie: string) {
		this.#gateway = gateway;
		this.#cookie = cookie;
	}

	/** A new reader on the gateway at `gatewayUrl` (e.g. http://127.0.0.1:4321/). */
	static async open(gatewayUrl: string): Promise<DocTestSession> {
		const gateway = gatewayAt(gatewayUrl);
		const cookie = await newReader(gateway).catch((cause: Error) => {
			// fetch fails with a TypeError when nothing answers there; otherwise the gateway said no.
			const problem =
				cause instanceof TypeError
					? `no gateway at ${gateway.origin} (${cause.message}): start it with \`npm start\` or leave out --url`
					: `the gateway at ${gateway.origin} gave no session: ${cause.message}`;
			throw new Error(problem, { cause });
		});
		return new DocTestSession(gateway, cookie);
	}

	/** Checks exercise `id` in this reader's lab, as its Check button does: `POST /api/check/<id>`. */
	async check(id: string): Promise<{ ok: boolean; message: string }> {
		const response = await fetch(new URL(`api/check/${id}`, this.#gateway.url), { method: 'POST', headers: { cookie: this.#cookie, origin: this.#gateway.origin } });
		const body = (await response.json()) as { ok?: boolean; message?: string };
		if (response.status !== 200) throw new Error(`the check of ${id} answered ${response.status}: ${JSON.stringify(body)}`);
		return { ok: body.ok === true, message: String(body.message) };
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
			terminal = await TerminalSocket.attach(this.#gateway, this.#cookie, name);
			this.#terminals.set(name, terminal);
		}
		return terminal;
	}
}

/** One attached terminal. Output is kept only from the current run on. */
class TerminalSocket {
	#client: TestClient | null = null;
	/** Keeps a UTF-8 character split across frames whole. */
	readonly #decoder = new StringDecoder('utf8');
	/** Output since the current run began. */
	#raw = '';

	get closed(): boolean {
		return this.#attached.closed;
	}

	static async attach(gateway: GatewayAddress, cookie: string, term: string): Promise<TerminalSocket> {
		const terminal = new TerminalSocket();
		terminal.#client = await TestClient.connect(gateway, {
			cookie,
			term,
			keep: false,
			onOutput: (chunk) => (terminal.#raw += terminal.#decoder.write(chunk)),
			size: { cols: 120, rows: 40 },
			readyTimeoutMs: 15_000,
		}).catch((cause: Error) => {
			throw new Error(`the gateway refused the terminal socket: ${cause.message}`, { cause });
		});
		return terminal;
	}

	get #attached(): TestClient {
		if (!this.#client) throw new Error('TerminalSocket: not attached yet');
		return this.#client;
	}

	/** Sends the block and waits for its `done` (or, for `until`, for the output to match). */
	async run(block: DocBlock, timeoutMs: number): Promise<{ exit: number | null; raw: string; problem?: string }> {
		const client = this.#attached;
		this.#raw = '';
		const from = client.messages.length;
		const messages = () => client.messages.slice(from);
		client.send({ t: 'run', code: block.code, block: block.id, ...(block.interrupt ? { interrupt: true } : {}) });
		const until = block.test.until ? new RegExp(block.test.until, 'm') : null;
		const finished = await client.waitFor(
			() => {
				if (client.closed) return true;
				if (messages().some((message) => message.t === 'error' || (message.t === 'done' && message.block === block.id))) return true;
				// Only what the command printed counts: before OSC 133 C there is only its echo.
				return until !== null && until.test(afterCommandStart(this.#raw));
			},
			timeoutMs,
			`block ${block.id}`,
		).then(
			() => true,
			() => false,
		);
		const raw = this.#raw;
		const error = messages().find((message) => message.t === 'error');
		const done = messages().find((message) => message.t === 'done' && message.block === block.id);
		if (client.closed) return { exit: null, raw, problem: `the terminal closed (${client.closeCode} ${client.closeReason})` };
		if (error?.t === 'error') return { exit: null, raw, problem: `the gateway answered ${error.code}: ${error.message}` };
		if (done?.t === 'done') return { exit: done.exit, raw };
		if (finished && until) return { exit: null, raw };
		// Leave the terminal usable for the next block.
		client.send({ t: 'signal', name: 'SIGINT' });
		return { exit: null, raw, problem: `no result within ${timeoutMs / 1000} s${until ? ` (waiting for until="${block.test.until}")` : ''}` };
	}

	close(): void {
		this.#attached.close();
	}
}

/** Plain text of what a still-running command printed so far: after OSC 133 C, or nothing before it. */
function afterCommandStart(raw: string): string {
	const start = raw.search(/\x1b\]133;C;/);
	return start < 0 ? '' : plainText(raw.slice(raw.indexOf('\x07', start) + 1));
}
