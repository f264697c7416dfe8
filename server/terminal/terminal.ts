/**
 * One named terminal: a process from a lab backend, its scrollback addressed by byte offsets, the
 * sockets attached to it (peers), and the pieces that make up the terminal core — the output batcher
 * (output-batcher.ts), flow control (flow-control.ts) and the shell's state from OSC 133 markers
 * (osc133.ts, shell-state.ts). This class only composes them and owns the process's lifetime.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ErrorCode, ServerMessage, SignalName } from '../../src/protocol.ts';
import type { LabBackend, LabProblem, LabProcess } from '../backends/backend.ts';
import { gatewayLoad, type EventLoopLoad } from './event-loop-load.ts';
import { FlowControl, type AckResult } from './flow-control.ts';
import { Osc133Parser } from './osc133.ts';
import { OutputBatcher } from './output-batcher.ts';
import { Scrollback } from './scrollback.ts';
import { INITIAL_SHELL_STATE, reduceShell, type ShellAction, type ShellState } from './shell-state.ts';
import { typedForm } from './typed-form.ts';

/** A socket attached to a terminal, as the terminal sees it. */
export interface TerminalPeer {
	output(data: Buffer): void;
	message(message: ServerMessage): void;
	/** The terminal is gone: tell the client why and close. */
	ended(code: ErrorCode): void;
	/** The input this peer sent while the terminal's input queue was full has been taken. */
	inputDrained(): void;
}

export interface TerminalOptions {
	id: string;
	/** The owning reader's label (see SpawnRequest.reader). */
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
	/** Counts output read from the process and input written to it (metrics). */
	onOutputBytes?(bytes: number): void;
	onInputBytes?(bytes: number): void;
	/** Whether the gateway's event loop is saturated, with no CPU to spare (see output-batcher.ts). @default the process's own event loop */
	load?: Pick<EventLoopLoad, 'saturated'>;
}

/** A command line that finished in the shell. */
export interface FinishedCommand {
	/** The Run block's id; null for a command line the reader typed. */
	block: string | null;
	/** The block's code, or the line as typed (from the OSC 133 E marker), cut to COMMAND_MAX_CHARS. */
	command: string;
	exit: number;
}

/** What happened to input: taken, taken but the sender should wait for `inputDrained`, or refused (the queue is full). */
export type InputResult = 'taken' | 'wait' | 'refused';

export const TERMINAL_SIZE = { minCols: 2, maxCols: 500, minRows: 1, maxRows: 200, cols: 80, rows: 24 } as const;

/**
 * Input queued beyond which more is refused. Senders are asked to wait well before (the backend's
 * INPUT_QUEUE_BYTES); this bounds what several sockets can queue before their pause takes effect.
 */
const INPUT_REFUSED_ABOVE_BYTES = 1024 * 1024;

/** How long `run` waits for the shell's prompt, and for Ctrl-C to end the running command. */
const SHELL_READY_TIMEOUT_MS = 15_000;
const INTERRUPT_TIMEOUT_MS = 2_000;
/** Ctrl-C presses within INTERRUPT_TIMEOUT_MS before "interrupt and run" gives up. */
const INTERRUPT_PRESSES = 4;

/** How a peer attaches: from which output offset, and as whom. */
export interface AttachOptions {
	/** The offset of the first output byte the peer has not seen. */
	since: number;
	/** The terminal was made for this attach (the client's `ready` says so). */
	created?: boolean;
	/** A reader keeps the terminal alive and may type; a viewer (the instructor watching) does neither. */
	role?: 'reader' | 'viewer';
	/** At most this many bytes of replay (a thumbnail needs only the screen's worth). */
	tail?: number;
}

export type EndReason = 'exit' | 'grace' | 'shutdown' | 'reset' | 'closed' | 'idle' | 'deadline' | LabProblem;

/** What attached clients are told for each way a terminal can end. */
const END_CODES: Record<EndReason, ErrorCode> = {
	exit: 'LAB_ERR_ENDED',
	grace: 'LAB_ERR_ENDED',
	closed: 'LAB_ERR_ENDED',
	shutdown: 'LAB_ERR_SHUTDOWN',
	reset: 'LAB_ERR_LAB_RESET',
	idle: 'LAB_ERR_IDLE',
	deadline: 'LAB_ERR_CLASS_OVER',
	LAB_ERR_LAB_OUTPUT: 'LAB_ERR_LAB_OUTPUT',
	LAB_ERR_LAB_TIMEOUT: 'LAB_ERR_LAB_TIMEOUT',
};

const LAB_PROBLEMS: Record<LabProblem, true> = { LAB_ERR_LAB_OUTPUT: true, LAB_ERR_LAB_TIMEOUT: true };

export class Terminal {
	readonly id: string;
	readonly name: string;
	readonly #options: TerminalOptions;
	readonly #scrollback: Scrollback;
	readonly #parser: Osc133Parser;
	readonly #batcher: OutputBatcher;
	readonly #flow: FlowControl<TerminalPeer>;
	/** Attached sockets; viewers are the instructor watching. */
	readonly #peers = new Map<TerminalPeer, { viewer: boolean }>();
	/** Peers told to wait for `inputDrained`. */
	readonly #waitingToType = new Set<TerminalPeer>();
	/** Set once the backend started the process; events before that only touch the scrollback. */
	#process: LabProcess | null = null;
	#shell: ShellState = INITIAL_SHELL_STATE;
	#waiters: Array<() => void> = [];
	#graceTimer: NodeJS.Timeout | null = null;
	#ending: Promise<void> | null = null;
	#exitCode: number | null = null;
	/** The viewer typing into this terminal (an instructor who took over); one at a time. */
	#controller: TerminalPeer | null = null;
	/** The process's size, as its reader last set it (viewers draw at this size). */
	#size: { cols: number; rows: number };

	private constructor(options: TerminalOptions, nonce: string, size: { cols: number; rows: number }) {
		this.id = options.id;
		this.name = options.name;
		this.#options = options;
		this.#scrollback = new Scrollback(options.scrollbackBytes);
		this.#parser = new Osc133Parser(nonce);
		this.#size = size;
		this.#flow = new FlowControl(options, { pause: () => this.#process?.pauseOutput(), resume: () => this.#process?.resumeOutput() });
		// Gathering a flood into large frames pays when the gateway has no CPU to spare, or when a
		// reader's page is slower than the output anyway (it would not show the bytes sooner, and
		// each message costs its main thread); otherwise each read goes out at once.
		this.#batcher = new OutputBatcher(
			(frame) => this.#sendToAll(frame),
			() => this.#flow.readerBehind || (options.load ?? gatewayLoad).saturated,
		);
	}

	static async start(backend: LabBackend, options: TerminalOptions, size: { cols: number; rows: number }): Promise<Terminal> {
		const nonce = randomBytes(12).toString('hex');
		const clamped = clampSize(size);
		const terminal = new Terminal(options, nonce, clamped);
		const process = await backend.spawn(
			{ id: options.id, reader: options.reader, term: options.name, nonce, ...clamped },
			{
				output: (chunk) => terminal.#onOutput(chunk),
				drain: () => terminal.#onInputDrained(),
				// Normally the shell's exit marker ended the terminal already; this covers a killed wrapper.
				exit: (code, problem) => void terminal.end(problem ?? 'exit', terminal.#exitCode ?? code),
			},
		);
		terminal.#process = process;
		// The process may have exited while the backend was still starting it.
		if (terminal.ended) void process.detach();
		else terminal.#startGraceTimer();
		return terminal;
	}

	get busy(): boolean {
		return this.#shell.busy;
	}

	get ended(): boolean {
		return this.#ending !== null;
	}

	get pid(): number {
		return this.#process?.pid ?? -1;
	}

	get peerCount(): number {
		return this.#peers.size;
	}

	/**
	 * Attach a peer: it gets `ready`, the output after `since` (or all that is held, when `since`
	 * belongs to an earlier shell; at most the last `tail` bytes of it when given), and the busy status.
	 */
	attach(peer: TerminalPeer, { since, created = false, role = 'reader', tail }: AttachOptions): void {
		if (this.ended) {
			peer.ended('LAB_ERR_ENDED');
			return;
		}
		if (role === 'reader') this.#stopGraceTimer();
		this.#batcher.flush();
		let from = since > this.#scrollback.end ? 0 : since;
		if (tail !== undefined) from = Math.max(from, this.#scrollback.end - tail);
		const replay = this.#scrollback.readFrom(from);
		this.#peers.set(peer, { viewer: role === 'viewer' });
		this.#flow.add(peer, role === 'viewer');
		peer.message({ t: 'ready', term: this.name, offset: replay.offset, lost: replay.lost, created, ackBytes: this.#flow.ackBytes });
		if (role === 'viewer') peer.message({ t: 'size', ...this.#size });
		if (replay.data.length > 0) this.#send(peer, replay.data);
		peer.message({ t: 'status', busy: this.busy });
		// A student reconnecting while the instructor types is told again (their panel starts afresh).
		if (this.#controller) peer.message({ t: 'takeover', on: true });
	}

	detach(peer: TerminalPeer): void {
		if (!this.#peers.delete(peer)) return;
		this.#flow.remove(peer);
		this.#waitingToType.delete(peer);
		// An instructor who leaves while typing gives the terminal back.
		this.releaseControl(peer);
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

	/**
	 * Keyboard input from `peer`. `wait`: taken, but the process's input queue is full — stop
	 * reading the socket until `inputDrained`. `refused`: dropped, the queue is far over.
	 */
	input(peer: TerminalPeer, data: Buffer): InputResult {
		const process = this.#process;
		if (this.ended || !process) return 'taken';
		if (process.queuedInputBytes > INPUT_REFUSED_ABOVE_BYTES) return 'refused';
		this.#options.onInputBytes?.(data.length);
		if (process.write(data)) return 'taken';
		this.#waitingToType.add(peer);
		return 'wait';
	}

	resize(cols: number, rows: number): void {
		if (this.ended) return;
		const size = clampSize({ cols, rows });
		if (size.cols === this.#size.cols && size.rows === this.#size.rows) return;
		this.#size = size;
		this.#process?.resize(size.cols, size.rows);
		for (const [peer, state] of this.#peers) if (state.viewer) peer.message({ t: 'size', ...size });
	}

	/** Whether `peer` has output it has not acknowledged yet. */
	owes(peer: TerminalPeer): boolean {
		return this.#flow.unacked(peer) > 0;
	}

	/** A peer rendered `bytes` more bytes; see FlowControl.ack for what is refused. */
	ack(peer: TerminalPeer, bytes: number): AckResult {
		return this.#flow.ack(peer, bytes);
	}

	/**
	 * Types a block into the shell, as if pasted. Returns "busy" when a command is running and
	 * `interrupt` is not set, or when Ctrl-C did not bring the prompt back.
	 */
	async run(code: string, block: string, interrupt: boolean): Promise<'started' | 'busy'> {
		if (this.ended || !this.#process) return 'busy';
		if (this.busy) {
			// A run still waiting for the prompt is not something Ctrl-C can stop: it would hit the
			// shell while it starts and could cut its rc file short.
			if (!interrupt || (this.#shell.run && !this.#shell.run.typed)) return 'busy';
			// A Ctrl-C that lands while the shell is still handing the terminal to the command reaches the
			// shell, not the command: press it again, as a person would.
			for (let press = 0; press < INTERRUPT_PRESSES && this.busy && !this.ended; press++) {
				this.#process.write(Buffer.from('\x03'));
				await this.#waitFor(() => !this.busy, INTERRUPT_TIMEOUT_MS / INTERRUPT_PRESSES);
			}
			if (this.busy || this.ended) return 'busy';
		}
		this.#dispatch({ kind: 'run-claimed', block, code });
		const claimed = this.#shell.run;
		if (!(await this.#waitFor(() => this.#shell.atPrompt, SHELL_READY_TIMEOUT_MS)) || this.ended || this.#shell.run !== claimed) {
			this.#dispatch({ kind: 'run-abandoned' });
			return 'busy';
		}
		this.#dispatch({ kind: 'run-typed' });
		this.#process.write(Buffer.from(typedForm(code, this.#size)));
		return 'started';
	}

	async signal(name: SignalName): Promise<void> {
		if (this.ended || !this.#process) return;
		// Ctrl-C goes through the line discipline, exactly as if the reader pressed it: programs in
		// raw mode (an editor) get the key instead of a signal, as they would in any terminal.
		if (name === 'SIGINT') this.#process.write(Buffer.from('\x03'));
		// At the prompt there is no job: the signal goes nowhere (never to the shell).
		else if (this.busy) await this.#process.signalForeground(name);
	}

	/**
	 * Ends the terminal. Attached peers are told why (`exit` carries the shell's status). A gateway
	 * stopping, or a shell that exited, lets go of the process (a backend that keeps shells keeps it);
	 * every other reason ends it for good. Idempotent: later calls wait for the first.
	 */
	end(reason: EndReason, exitCode: number | null = null): Promise<void> {
		if (this.#ending) return this.#ending;
		this.#stopGraceTimer();
		this.#batcher.flush();
		this.#exitCode = exitCode;
		const code = END_CODES[reason];
		for (const peer of this.#peers.keys()) {
			if (reason === 'exit') peer.message({ t: 'exit', code: exitCode ?? -1 });
			peer.ended(code);
		}
		this.#peers.clear();
		this.#waitingToType.clear();
		this.#options.logger.info({ terminal: this.id, reason, exitCode }, 'terminal ended');
		const process = this.#process;
		// A process the backend ended for a problem is gone already: what it left in the lab stays.
		const letGo = !process ? Promise.resolve() : reason === 'shutdown' || reason === 'exit' || reason in LAB_PROBLEMS ? process.detach() : process.kill();
		const ending = letGo.finally(() => {
			this.#wakeWaiters();
			this.#options.onEnd(this);
		});
		this.#ending = ending;
		return ending;
	}

	/** A control message to every attached socket (e.g. a session-expiry warning). */
	notify(message: ServerMessage): void {
		this.#broadcast(message);
	}

	#onOutput(chunk: Buffer): void {
		if (this.ended) return;
		this.#options.onOutputBytes?.(chunk.length);
		this.#scrollback.append(chunk);
		this.#batcher.push(chunk);
		const events = this.#parser.feed(chunk);
		if (events.length === 0) return;
		// The client must have the output before it hears that the command finished.
		this.#batcher.flush();
		for (const event of events) this.#dispatch(event);
	}

	#onInputDrained(): void {
		const waiting = [...this.#waitingToType];
		this.#waitingToType.clear();
		for (const peer of waiting) peer.inputDrained();
	}

	#dispatch(action: ShellAction): void {
		const { state, effects } = reduceShell(this.#shell, action);
		this.#shell = state;
		for (const effect of effects) {
			switch (effect.kind) {
				case 'status':
					this.#broadcast({ t: 'status', busy: effect.busy });
					break;
				case 'run-done':
					this.#broadcast({ t: 'done', block: effect.block, exit: effect.exit });
					this.#options.onCommand?.({ block: effect.block, command: effect.code, exit: effect.exit });
					break;
				case 'typed-done':
					this.#options.onCommand?.({ block: null, command: effect.command, exit: effect.exit });
					break;
				case 'shell-exit':
					void this.end('exit', effect.exit);
					return;
			}
		}
		this.#wakeWaiters();
	}

	#sendToAll(frame: Buffer): void {
		for (const peer of this.#peers.keys()) this.#send(peer, frame);
	}

	#send(peer: TerminalPeer, data: Buffer): void {
		if (!this.#flow.sending(peer, data.length)) {
			// A viewer too far behind: it reconnects and catches up from the scrollback.
			this.#peers.delete(peer);
			this.#flow.remove(peer);
			this.releaseControl(peer);
			peer.ended('LAB_ERR_VIEWER_BEHIND');
			return;
		}
		peer.output(data);
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
