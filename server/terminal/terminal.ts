/**
 * One named terminal: a process from a lab backend, its scrollback addressed by byte offsets, the
 * sockets attached to it (peers) with what each may do, and the pieces that make up the terminal
 * core — the output batcher (output-batcher.ts), flow control (flow-control.ts) and the shell's state
 * from OSC 133 markers (osc133.ts, shell-state.ts). This class only composes them and owns the
 * process's lifetime. Who a peer is (a reader, an instructor watching) is for the layers above.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { ErrorCode, ServerMessage, SignalName } from '../../src/protocol.ts';
import type { LabBackend, LabProcess } from '../backends/backend.ts';
import { ConditionWaiters } from './condition-waiters.ts';
import { endCodeOf, letsGoOfProcess, type EndReason } from './end-reason.ts';
import { gatewayLoad, type EventLoopLoad } from './event-loop-load.ts';
import { FlowControl, type AckResult } from './flow-control.ts';
import { Osc133Parser } from './osc133.ts';
import { OutputBatcher } from './output-batcher.ts';
import { Scrollback } from './scrollback.ts';
import { INITIAL_SHELL_STATE, reduceShell, type ShellAction, type ShellState } from './shell-state.ts';
import { clampSize } from './terminal-size.ts';
import { typedForm } from './typed-form.ts';

export type { EndReason } from './end-reason.ts';

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

/**
 * What happened to input: taken, taken but the sender should wait for `inputDrained`, refused (the
 * queue is full), or refused because the peer may not type (see {@link PeerRights.types}).
 */
export type InputResult = 'taken' | 'wait' | 'refused' | 'read-only';

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

/** What an attached peer may do. */
export interface PeerRights {
	/** While attached, the terminal stays: its grace period starts when the last such peer leaves. @default true */
	keepsAlive: boolean;
	/** May type into the shell; `input` from a peer that may not is refused (`read-only`). @default true */
	types: boolean;
	/**
	 * Holds the process's output back while the peer is behind (flow control). A peer that does not
	 * is dropped (`LAB_ERR_VIEWER_BEHIND`) when too far behind instead, and catches up from the
	 * scrollback when it attaches again.
	 * @default true
	 */
	holdsOutput: boolean;
	/** Is sent the terminal's size (`size`) after `ready` and at every change, to draw at it. @default false */
	receivesSize: boolean;
}

/** How a peer attaches: from which output offset, and what it may do. */
export interface AttachOptions extends Partial<PeerRights> {
	/** The offset of the first output byte the peer has not seen. */
	since: number;
	/** The terminal was made for this attach (the client's `ready` says so). */
	created?: boolean;
	/** At most this many bytes of replay (a thumbnail needs only the screen's worth). */
	tail?: number;
}

/** What a terminal tells the layers above about its peers (while it has not ended). */
export interface TerminalEvents {
	/** A peer attached and was sent `ready`, its replay and the shell's status. */
	'peer-attached': [peer: TerminalPeer];
	/** A peer left: it detached, or was dropped for falling too far behind. */
	'peer-left': [peer: TerminalPeer];
}

export class Terminal extends EventEmitter<TerminalEvents> {
	readonly id: string;
	readonly name: string;
	readonly #options: TerminalOptions;
	readonly #scrollback: Scrollback;
	readonly #parser: Osc133Parser;
	readonly #batcher: OutputBatcher;
	readonly #flow: FlowControl<TerminalPeer>;
	/** Attached sockets, with what each may do. */
	readonly #peers = new Map<TerminalPeer, PeerRights>();
	/** Peers told to wait for `inputDrained`. */
	readonly #waitingToType = new Set<TerminalPeer>();
	/** Set once the backend started the process; events before that only touch the scrollback. */
	#process: LabProcess | null = null;
	#shell: ShellState = INITIAL_SHELL_STATE;
	/** Runs waiting for the prompt, or for Ctrl-C to end a command: checked on every shell event. */
	readonly #waiters = new ConditionWaiters(() => this.ended);
	#graceTimer: NodeJS.Timeout | null = null;
	#ending: Promise<void> | null = null;
	#exitCode: number | null = null;
	/** The process's size, as its reader last set it (peers that receive sizes draw at this size). */
	#size: { cols: number; rows: number };

	private constructor(options: TerminalOptions, nonce: string, size: { cols: number; rows: number }) {
		super();
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
	attach(peer: TerminalPeer, { since, created = false, tail, keepsAlive = true, types = true, holdsOutput = true, receivesSize = false }: AttachOptions): void {
		if (this.ended) {
			peer.ended('LAB_ERR_ENDED');
			return;
		}
		if (keepsAlive) this.#stopGraceTimer();
		this.#batcher.flush();
		let from = since > this.#scrollback.end ? 0 : since;
		if (tail !== undefined) from = Math.max(from, this.#scrollback.end - tail);
		const replay = this.#scrollback.readFrom(from);
		this.#peers.set(peer, { keepsAlive, types, holdsOutput, receivesSize });
		this.#flow.add(peer, { holdsOutput });
		peer.message({ t: 'ready', term: this.name, offset: replay.offset, lost: replay.lost, created, ackBytes: this.#flow.ackBytes });
		if (receivesSize) peer.message({ t: 'size', ...this.#size });
		if (replay.data.length > 0) this.#send(peer, replay.data);
		peer.message({ t: 'status', busy: this.busy });
		this.emit('peer-attached', peer);
	}

	detach(peer: TerminalPeer): void {
		if (!this.#forget(peer)) return;
		if (![...this.#peers.values()].some((rights) => rights.keepsAlive) && !this.#graceTimer) this.#startGraceTimer();
	}

	/** Lets an attached `peer` type, or stops it; false when `peer` is not attached. */
	allowTyping(peer: TerminalPeer, allowed: boolean): boolean {
		const rights = this.#peers.get(peer);
		if (rights) rights.types = allowed;
		return rights !== undefined;
	}

	/**
	 * Keyboard input from `peer`. `wait`: taken, but the process's input queue is full — stop
	 * reading the socket until `inputDrained`. `refused`: dropped, the queue is far over.
	 * `read-only`: dropped, the peer may not type.
	 */
	input(peer: TerminalPeer, data: Buffer): InputResult {
		const process = this.#process;
		if (this.ended || !process) return 'taken';
		if (!this.#peers.get(peer)?.types) return 'read-only';
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
		for (const [peer, rights] of this.#peers) if (rights.receivesSize) peer.message({ t: 'size', ...size });
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
				this.#pressCtrlC();
				await this.#waiters.waitFor(() => !this.busy, INTERRUPT_TIMEOUT_MS / INTERRUPT_PRESSES);
			}
			if (this.busy || this.ended) return 'busy';
		}
		this.#dispatch({ kind: 'run-claimed', block, code });
		const claimed = this.#shell.run;
		if (!(await this.#waiters.waitFor(() => this.#shell.atPrompt, SHELL_READY_TIMEOUT_MS)) || this.ended || this.#shell.run !== claimed) {
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
		if (name === 'SIGINT') this.#pressCtrlC();
		// At the prompt there is no job: the signal goes nowhere (never to the shell).
		else if (this.busy) await this.#process.signalForeground(name);
	}

	/** Writes Ctrl-C into the shell; the shell's state learns of it first (a typed Run it stops before it starts ends with 130). */
	#pressCtrlC(): void {
		this.#dispatch({ kind: 'interrupt-sent' });
		this.#process?.write(Buffer.from('\x03'));
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
		const code = endCodeOf(reason);
		for (const peer of this.#peers.keys()) {
			if (reason === 'exit') peer.message({ t: 'exit', code: exitCode ?? -1 });
			peer.ended(code);
		}
		this.#peers.clear();
		this.#waitingToType.clear();
		this.#options.logger.info({ terminal: this.id, reason, exitCode }, 'terminal ended');
		const process = this.#process;
		const letGo = !process ? Promise.resolve() : letsGoOfProcess(reason) ? process.detach() : process.kill();
		const ending = letGo.finally(() => {
			this.#waiters.check();
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
		this.#waiters.check();
	}

	#sendToAll(frame: Buffer): void {
		for (const peer of this.#peers.keys()) this.#send(peer, frame);
	}

	#send(peer: TerminalPeer, data: Buffer): void {
		if (!this.#flow.sending(peer, data.length)) {
			// A peer that does not hold the output back, too far behind: it reconnects and catches up from the scrollback.
			this.#forget(peer);
			peer.ended('LAB_ERR_VIEWER_BEHIND');
			return;
		}
		peer.output(data);
	}

	/** Lets go of `peer` and tells the layers above; false when it was not attached. */
	#forget(peer: TerminalPeer): boolean {
		if (!this.#peers.delete(peer)) return false;
		this.#flow.remove(peer);
		this.#waitingToType.delete(peer);
		this.emit('peer-left', peer);
		return true;
	}

	#broadcast(message: ServerMessage): void {
		for (const peer of this.#peers.keys()) peer.message(message);
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
