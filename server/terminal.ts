/**
 * One named terminal: a pty process from a lab backend, its scrollback addressed by byte offsets, the
 * sockets attached to it (peers), flow control, and the shell-integration state that turns OSC 133
 * markers into `status` and `done` messages and reports every command line that finished.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ErrorCode, ServerMessage, SignalName } from '../src/protocol.ts';
import type { LabBackend, LabProcess, SpawnRequest } from './backends/backend.ts';
import { Osc133Parser, type ShellEvent } from './osc133.ts';
import { Scrollback } from './scrollback.ts';
import { typedForm as typedFormFitting } from './typed-form.ts';

/** A socket attached to a terminal, as the terminal sees it. */
export interface TerminalPeer {
	output(data: Buffer): void;
	message(message: ServerMessage): void;
	/** The terminal is gone: tell the client why and close. */
	ended(code: ErrorCode): void;
}

export interface TerminalOptions {
	id: string;
	/** The owning reader's label (see {@link SpawnRequest.reader}). */
	reader: string;
	name: string;
	scrollbackBytes: number;
	highWatermarkBytes: number;
	lowWatermarkBytes: number;
	graceMs: number;
	logger: Logger;
	/** Called once when the terminal has ended, whatever the reason. */
	onEnd(terminal: Terminal): void;
	/** Called when a command line finishes, run with Run or typed (progress, transcripts, the roster). */
	onCommand?(command: FinishedCommand): void;
	/** Counts output read from the pty and input written to it (metrics). */
	onOutputBytes?(bytes: number): void;
	onInputBytes?(bytes: number): void;
}

/** A command line that finished in the shell. */
export interface FinishedCommand {
	/** The Run block's id; null for a command line the reader typed. */
	block: string | null;
	/** The block's code, or the line as typed (from the OSC 133 E marker), cut to {@link COMMAND_MAX_CHARS}. */
	command: string;
	exit: number;
}

/** How much of a command line is reported. */
const COMMAND_MAX_CHARS = 2000;

export const TERMINAL_SIZE = { minCols: 2, maxCols: 500, minRows: 1, maxRows: 200, cols: 80, rows: 24 } as const;

/** How far a viewer may fall behind before it is dropped (it reconnects and catches up from the scrollback). */
const VIEWER_MAX_BEHIND_BYTES = 4 * 1024 * 1024;
/** Output frames are at most this large (a flood is cut into frames of this size). */
const MAX_FRAME_BYTES = 64 * 1024;
/** Output arriving within this long of the previous frame counts as a flood and is gathered… */
const FLOOD_GAP_MS = 2;
/** …for this long at most. */
const FLOOD_DELAY_MS = 2;

/** How long `run` waits for the shell's prompt, and for Ctrl-C to end the running command. */
const SHELL_READY_TIMEOUT_MS = 15_000;
const INTERRUPT_TIMEOUT_MS = 2_000;

type EndReason = 'exit' | 'grace' | 'shutdown' | 'closed' | 'idle' | 'deadline';

/** What attached clients are told for each way a terminal can end. */
const END_CODES: Record<EndReason, ErrorCode> = {
	exit: 'LAB_ERR_ENDED',
	grace: 'LAB_ERR_ENDED',
	closed: 'LAB_ERR_ENDED',
	shutdown: 'LAB_ERR_SHUTDOWN',
	idle: 'LAB_ERR_IDLE',
	deadline: 'LAB_ERR_CLASS_OVER',
};

interface PendingRun {
	block: string;
	code: string;
	/** Written to the pty yet? Until then prompt markers belong to whatever came before. */
	typed: boolean;
	/** Saw the command start (OSC 133 C): without it, nothing ran (an empty block). */
	started: boolean;
}

export class Terminal {
	readonly id: string;
	readonly name: string;
	readonly #options: TerminalOptions;
	readonly #process: LabProcess;
	readonly #scrollback: Scrollback;
	readonly #parser: Osc133Parser;
	/**
	 * Bytes sent to each peer and not yet acknowledged. A viewer (the instructor watching) never
	 * holds the shell back: it is dropped instead when it falls too far behind.
	 */
	readonly #peers = new Map<TerminalPeer, { unacked: number; viewer: boolean }>();
	#batch: Buffer[] = [];
	#batchBytes = 0;
	#flushScheduled = false;
	#flushTimer: NodeJS.Timeout | null = null;
	#lastFlushAt = 0;
	#paused = false;
	#busy = false;
	/** Readline is showing a prompt (OSC 133 A/B seen since the last command): typed text goes to it. */
	#atPrompt = false;
	#pendingRun: PendingRun | null = null;
	/** The line(s) the reader typed since the last prompt, from E markers, until D says how they ended. */
	#typedCommand: string | null = null;
	#waiters: Array<() => void> = [];
	#graceTimer: NodeJS.Timeout | null = null;
	#ending: Promise<void> | null = null;
	#exitCode: number | null = null;
	/** The viewer typing into this terminal (an instructor who took over); one at a time. */
	#controller: TerminalPeer | null = null;
	/** The pty's size, as its reader last set it (viewers draw at this size). */
	#size: { cols: number; rows: number };
	lastActivity = Date.now();

	private constructor(options: TerminalOptions, process: LabProcess, nonce: string, size: { cols: number; rows: number }) {
		this.id = options.id;
		this.name = options.name;
		this.#options = options;
		this.#process = process;
		this.#scrollback = new Scrollback(options.scrollbackBytes);
		this.#parser = new Osc133Parser(nonce);
		this.#size = size;
		process.pty.onData((chunk) => this.#onOutput(chunk as unknown as Buffer));
		process.pty.onExit(({ exitCode }) => {
			// Normally the shell's exit marker ended us already; this covers a killed wrapper.
			void this.end('exit', this.#exitCode ?? exitCode);
		});
		this.#startGraceTimer();
	}

	static async start(backend: LabBackend, options: TerminalOptions, size: { cols: number; rows: number }): Promise<Terminal> {
		const nonce = randomBytes(12).toString('hex');
		const clamped = clampSize(size);
		const process = await backend.spawn({ id: options.id, reader: options.reader, term: options.name, nonce, ...clamped });
		return new Terminal(options, process, nonce, clamped);
	}

	get busy(): boolean {
		return this.#busy;
	}

	get ended(): boolean {
		return this.#ending !== null;
	}

	get pid(): number {
		return this.#process.pty.pid;
	}

	/** Offset one past the newest output byte. */
	get outputOffset(): number {
		return this.#scrollback.end;
	}

	get peerCount(): number {
		return this.#peers.size;
	}

	/**
	 * Attach a peer: it gets `ready`, the output after `since` (or all that is held, when `since`
	 * belongs to an earlier shell; at most the last `tail` bytes of it when given), and the busy status.
	 */
	attach(peer: TerminalPeer, since: number, created: boolean, role: 'reader' | 'viewer' = 'reader', tail?: number): void {
		if (this.ended) {
			peer.ended('LAB_ERR_ENDED');
			return;
		}
		if (role === 'reader') this.#stopGraceTimer();
		this.#flush();
		let from = since > this.#scrollback.end ? 0 : since;
		if (tail !== undefined) from = Math.max(from, this.#scrollback.end - tail);
		const replay = this.#scrollback.readFrom(from);
		this.#peers.set(peer, { unacked: 0, viewer: role === 'viewer' });
		peer.message({ t: 'ready', term: this.name, offset: replay.offset, lost: replay.lost, created });
		if (role === 'viewer') peer.message({ t: 'size', ...this.#size });
		if (replay.data.length > 0) this.#send(peer, replay.data);
		peer.message({ t: 'status', busy: this.#busy });
		// A student reconnecting while the instructor types is told again (their panel starts afresh).
		if (this.#controller) peer.message({ t: 'takeover', on: true });
		this.#applyBackpressure();
	}

	detach(peer: TerminalPeer): void {
		if (!this.#peers.delete(peer)) return;
		// An instructor who leaves while typing gives the terminal back.
		this.releaseControl(peer);
		this.#releaseBackpressure();
		// Only the reader keeps a terminal alive; someone watching does not.
		if (![...this.#peers.values()].some((state) => !state.viewer) && !this.#graceTimer) this.#startGraceTimer();
	}

	/** Gives a viewer the keyboard (every socket is told); false when another viewer has it. */
	takeControl(peer: TerminalPeer): boolean {
		if (this.#controller === peer) return true;
		if (this.#controller || !this.#peers.has(peer)) return false;
		this.#controller = peer;
		this.#broadcast({ t: 'takeover', on: true });
		return true;
	}

	/** Takes the keyboard back from `peer`, if it has it. */
	releaseControl(peer: TerminalPeer): void {
		if (this.#controller !== peer) return;
		this.#controller = null;
		this.#broadcast({ t: 'takeover', on: false });
	}

	controlledBy(peer: TerminalPeer): boolean {
		return this.#controller === peer;
	}

	/** Keyboard input from a reader. */
	input(data: Buffer): void {
		if (this.ended) return;
		this.lastActivity = Date.now();
		this.#options.onInputBytes?.(data.length);
		this.#process.pty.write(data);
	}

	resize(cols: number, rows: number): void {
		if (this.ended) return;
		const size = clampSize({ cols, rows });
		if (size.cols === this.#size.cols && size.rows === this.#size.rows) return;
		this.#size = size;
		this.#process.pty.resize(size.cols, size.rows);
		for (const [peer, state] of this.#peers) if (state.viewer) peer.message({ t: 'size', ...size });
	}

	/** Whether `peer` has output it has not acknowledged yet. */
	owes(peer: TerminalPeer): boolean {
		return (this.#peers.get(peer)?.unacked ?? 0) > 0;
	}

	/** A peer rendered `bytes` more bytes. */
	ack(peer: TerminalPeer, bytes: number): void {
		const state = this.#peers.get(peer);
		if (!state) return;
		state.unacked = Math.max(0, state.unacked - bytes);
		this.#releaseBackpressure();
	}

	/**
	 * Types a block into the shell, as if pasted. Returns "busy" when a command is running and
	 * `interrupt` is not set, or when Ctrl-C did not bring the prompt back.
	 */
	async run(code: string, block: string, interrupt: boolean): Promise<'started' | 'busy'> {
		if (this.ended) return 'busy';
		this.lastActivity = Date.now();
		if (this.#busy) {
			// A run still waiting for the prompt is not something Ctrl-C can stop: it would hit the
			// shell while it starts and could cut its rc file short.
			if (!interrupt || (this.#pendingRun && !this.#pendingRun.typed)) return 'busy';
			this.#process.pty.write('\x03');
			if (!(await this.#waitFor(() => !this.#busy, INTERRUPT_TIMEOUT_MS)) || this.#busy) return 'busy';
		}
		// Claim the terminal before waiting, so a second run in the meantime is told it is busy.
		const run: PendingRun = { block, code, typed: false, started: false };
		this.#pendingRun = run;
		this.#setBusy(true);
		if (!(await this.#waitFor(() => this.#atPrompt, SHELL_READY_TIMEOUT_MS)) || this.ended) {
			if (this.#pendingRun === run) this.#pendingRun = null;
			this.#setBusy(false);
			return 'busy';
		}
		run.typed = true;
		this.#process.pty.write(typedFormFitting(code, this.#size));
		return 'started';
	}

	async signal(name: SignalName): Promise<void> {
		if (this.ended) return;
		// Ctrl-C goes through the line discipline, exactly as if the reader pressed it: programs in
		// raw mode (an editor) get the key instead of a signal, as they would in any terminal.
		if (name === 'SIGINT') this.#process.pty.write('\x03');
		else await this.#process.signalForeground(name);
	}

	/**
	 * Ends the terminal and everything it started. Attached peers are told why (`exit` carries the
	 * shell's status). Idempotent: later calls wait for the first.
	 */
	end(reason: EndReason, exitCode: number | null = null): Promise<void> {
		if (this.#ending) return this.#ending;
		this.#stopGraceTimer();
		this.#flush();
		this.#exitCode = exitCode;
		const code = END_CODES[reason];
		for (const peer of this.#peers.keys()) {
			if (reason === 'exit') peer.message({ t: 'exit', code: exitCode ?? -1 });
			peer.ended(code);
		}
		this.#peers.clear();
		this.#options.logger.info({ terminal: this.id, reason, exitCode }, 'terminal ended');
		// A gateway stopping, or a shell that exited, lets go (an ssh lab host keeps its tmux session);
		// everything else ends the terminal for good.
		const ending = reason === 'shutdown' || reason === 'exit' ? this.#process.terminate() : this.#process.destroy();
		this.#ending = ending.finally(() => {
			this.#wakeWaiters();
			this.#options.onEnd(this);
		});
		return this.#ending;
	}

	#onOutput(chunk: Buffer): void {
		if (this.ended) return;
		this.#options.onOutputBytes?.(chunk.length);
		this.#scrollback.append(chunk);
		this.#batch.push(chunk);
		this.#batchBytes += chunk.length;
		const events = this.#parser.feed(chunk);
		if (events.length > 0) {
			// The client must have the output before it hears that the command finished.
			this.#flush();
			for (const event of events) this.#onShellEvent(event);
		} else if (this.#batchBytes >= MAX_FRAME_BYTES) {
			this.#flush();
		} else if (!this.#flushScheduled) {
			this.#flushScheduled = true;
			// A key's echo after a quiet spell goes out at once; during a flood (each ~4 KiB pty read
			// in its own event-loop turn) reads are gathered for a moment into frames of up to
			// MAX_FRAME_BYTES: ~15 frames per MB instead of ~240, each costing a syscall and a client event.
			if (performance.now() - this.#lastFlushAt < FLOOD_GAP_MS) this.#flushTimer = setTimeout(() => this.#flush(), FLOOD_DELAY_MS);
			else setImmediate(() => this.#flush());
		}
	}

	#flush(): void {
		this.#flushScheduled = false;
		if (this.#flushTimer) clearTimeout(this.#flushTimer);
		this.#flushTimer = null;
		this.#lastFlushAt = performance.now();
		if (this.#batch.length === 0) return;
		const data = this.#batch.length === 1 ? this.#batch[0]! : Buffer.concat(this.#batch, this.#batchBytes);
		this.#batch = [];
		this.#batchBytes = 0;
		for (const peer of this.#peers.keys()) this.#send(peer, data);
		this.#applyBackpressure();
	}

	#send(peer: TerminalPeer, data: Buffer): void {
		const state = this.#peers.get(peer)!;
		if (state.viewer && state.unacked > VIEWER_MAX_BEHIND_BYTES) {
			this.#peers.delete(peer);
			this.releaseControl(peer);
			peer.ended('LAB_ERR_VIEWER_BEHIND');
			return;
		}
		state.unacked += data.length;
		peer.output(data);
	}

	#applyBackpressure(): void {
		if (this.#paused) return;
		for (const state of this.#peers.values()) {
			if (!state.viewer && state.unacked > this.#options.highWatermarkBytes) {
				this.#paused = true;
				this.#process.pty.pause();
				return;
			}
		}
	}

	#releaseBackpressure(): void {
		if (!this.#paused) return;
		for (const state of this.#peers.values()) if (!state.viewer && state.unacked > this.#options.lowWatermarkBytes) return;
		this.#paused = false;
		this.#process.pty.resume();
	}

	#onShellEvent(event: ShellEvent): void {
		switch (event.kind) {
			case 'prompt-start':
			case 'prompt-end':
				this.#atPrompt = true;
				break;
			case 'command-line':
				// A block is reported once, with its code, not as the lines the shell read from it.
				if (this.#pendingRun?.typed) break;
				// Lines pasted at once run one after another before the next prompt, so one D ends them all.
				this.#typedCommand = (this.#typedCommand === null ? event.command : `${this.#typedCommand}\n${event.command}`).slice(0, COMMAND_MAX_CHARS);
				break;
			case 'command-start':
				this.#atPrompt = false;
				if (this.#pendingRun?.typed) this.#pendingRun.started = true;
				this.#setBusy(true);
				break;
			case 'command-end': {
				// PROMPT_COMMAND runs before readline takes the terminal: not at the prompt yet.
				this.#atPrompt = false;
				const run = this.#pendingRun;
				const typed = this.#typedCommand;
				this.#typedCommand = null;
				if (run?.typed) {
					this.#pendingRun = null;
					const exit = run.started ? event.exit : 0;
					this.#broadcast({ t: 'done', block: run.block, exit });
					this.#options.onCommand?.({ block: run.block, command: run.code.slice(0, COMMAND_MAX_CHARS), exit });
				} else if (typed !== null) {
					// Also when a run waits for the prompt: this is the typed command it interrupted.
					this.#options.onCommand?.({ block: null, command: typed, exit: event.exit });
				}
				// A run still waiting for the prompt keeps the terminal it claimed busy.
				if (this.#pendingRun) break;
				this.#setBusy(false);
				break;
			}
			case 'shell-exit':
				void this.end('exit', event.exit);
				return;
		}
		this.#wakeWaiters();
	}

	#setBusy(busy: boolean): void {
		if (this.#busy === busy) return;
		this.#busy = busy;
		this.#broadcast({ t: 'status', busy });
	}

	/** A control message to every attached socket (e.g. a session-expiry warning). */
	notify(message: ServerMessage): void {
		this.#broadcast(message);
	}

	#broadcast(message: ServerMessage): void {
		for (const peer of this.#peers.keys()) peer.message(message);
	}

	/** Resolves true once `condition` holds (checked on every shell event), false after `timeoutMs` or on end. */
	#waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
		if (condition()) return Promise.resolve(true);
		return new Promise((resolve) => {
			const timer = setTimeout(() => {
				this.#waiters = this.#waiters.filter((waiter) => waiter !== check);
				resolve(false);
			}, timeoutMs);
			const check = () => {
				if (!condition() && !this.ended) return;
				clearTimeout(timer);
				this.#waiters = this.#waiters.filter((waiter) => waiter !== check);
				resolve(condition());
			};
			this.#waiters.push(check);
		});
	}

	#wakeWaiters(): void {
		for (const waiter of [...this.#waiters]) waiter();
	}

	#startGraceTimer(): void {
		this.#stopGraceTimer();
		this.#graceTimer = setTimeout(() => void this.end('grace'), this.#options.graceMs);
		this.#graceTimer.unref();
	}

	#stopGraceTimer(): void {
		if (this.#graceTimer) clearTimeout(this.#graceTimer);
		this.#graceTimer = null;
	}
}

/** Terminal sizes from clients are clamped, never trusted. */
export function clampSize(size: { cols: number; rows: number }): { cols: number; rows: number } {
	const clamp = (value: number, min: number, max: number, fallback: number) =>
		Number.isFinite(value) ? Math.min(max, Math.max(min, Math.trunc(value))) : fallback;
	return {
		cols: clamp(size.cols, TERMINAL_SIZE.minCols, TERMINAL_SIZE.maxCols, TERMINAL_SIZE.cols),
		rows: clamp(size.rows, TERMINAL_SIZE.minRows, TERMINAL_SIZE.maxRows, TERMINAL_SIZE.rows),
	};
}

/**
 * What the pty receives for a block: one line is typed and entered; several lines go in as one
 * bracketed paste, so heredocs and continuation lines arrive intact and run as one command line.
 * First {@link CLEAR_LINE_KEY} clears anything the reader had half-typed at the prompt.
 */
export function typedForm(code: string): string {
	const text = code.replace(/\r\n?/g, '\n').replace(/\n+$/, '');
	if (!text.includes('\n')) return `${CLEAR_LINE_KEY}${text}\r`;
	// A paste-end sequence inside the block would end the paste early and run the rest line by line.
	return `${CLEAR_LINE_KEY}\x1b[200~${text.replaceAll('\x1b[201~', '')}\x1b[201~\r`;
}

/**
 * A key sequence no keyboard sends, bound to readline's kill-whole-line by podlab.bashrc (unlike
 * Ctrl-U, it does not ring the bell on an empty line).
 */
export const CLEAR_LINE_KEY = '\x1b[9999~';
