/**
 * One named terminal's connection to the gateway: one WebSocket at a time, attached with the byte
 * offset already shown so a reconnect continues exactly where the screen left off; flow-control
 * acks; runs queued until the terminal is ready; and reconnecting with backoff, or stopping with a
 * clear reason when retrying cannot help.
 *
 * No DOM and no xterm here: the panel turns the listener's calls into pixels, tests drive it with a
 * fake socket.
 */
import { isServerMessage } from 'virtual:podlab/validators';
import { ERRORS, encodeClientMessage, errorOfClose } from '../protocol-values.ts';
import type { ClientMessage, SignalName } from '../protocol.ts';
import { AckCoalescer } from './ack-coalescer.ts';
import { backoffDelay, type BackoffOptions } from './backoff.ts';
import { RunLedger } from './run-ledger.ts';

/** A WebSocket reduced to what the connection needs; `openBrowserSocket` adapts the real one. */
export interface SocketLike {
	send(data: string | Uint8Array): void;
	close(code?: number, reason?: string): void;
}

export interface SocketHandlers {
	open(): void;
	/** A text frame arrives as a string, a binary frame as an ArrayBuffer. */
	message(data: string | ArrayBuffer): void;
	close(code: number, reason: string): void;
}

export type OpenSocket = (url: string, handlers: SocketHandlers) => SocketLike;

/** A block to type into the shell. */
export interface TerminalRun {
	code: string;
	block: string;
	interrupt: boolean;
}

export type ConnectionStatus =
	| { state: 'connecting' }
	| { state: 'connected' }
	/** The socket dropped; the next attempt is in `retryInMs`. `code`: the gateway's error, when it gave one. */
	| { state: 'reconnecting'; retryInMs: number; cause: string; code?: string }
	/** The gateway does not answer at all. */
	| { state: 'offline'; retryInMs: number }
	/** The shell is gone (it exited, or was ended); a new one needs `restart()`. */
	/** `reason`: why the gateway ended it, when it says (idle limit, class over). */
	| { state: 'ended'; exitCode: number | null; reason?: string }
	/** Retrying will not help; `code` is a gateway error code or a client-side one. */
	| { state: 'failed'; code: string; message: string }
	/** Closed on purpose by `close()`. */
	| { state: 'closed' };

/** Why a run never reached the shell. */
export type UndeliveredReason = 'offline' | 'ended' | 'failed' | 'closed';

export interface ConnectionListener {
	status(status: ConnectionStatus): void;
	/** Output bytes, in order. Call `rendered` once the terminal has processed them (flow control). */
	output(bytes: Uint8Array, rendered: () => void): void;
	/**
	 * The socket is attached. `newShell`: the shell is not the one on screen (clear the screen).
	 * `lost`: bytes of earlier output the gateway no longer holds.
	 */
	attached(info: { created: boolean; newShell: boolean; lost: number }): void;
	/** The rest are about runs: a viewer (the instructor page) runs nothing and leaves them out. */
	busy?(busy: boolean): void;
	done?(block: string, exit: number): void;
	/** The terminal was busy and the run was not typed; offer to interrupt. */
	runRefused?(run: TerminalRun): void;
	runUndelivered?(run: TerminalRun, reason: UndeliveredReason): void;
	/** The socket dropped while these blocks were running: their results will not arrive. */
	resultsLost?(blocks: string[]): void;
	/** Class mode: the gateway will end this reader's terminals at `at` (epoch ms) unless they stay. */
	expiry?(reason: 'idle' | 'deadline', at: number): void;
	/** Class mode: the instructor started or stopped typing into this terminal. */
	takeover?(on: boolean): void;
	/** Class mode: a message from the instructor. */
	notice?(text: string): void;
	/** Watching a student: the size their terminal has (draw at it). */
	size?(cols: number, rows: number): void;
}

export interface TerminalConnectionOptions {
	term: string;
	/** The gateway's WebSocket URL (ws:// or wss://…/ws). */
	url: string;
	listener: ConnectionListener;
	openSocket: OpenSocket;
	/**
	 * Asks the gateway over HTTP whether it is there (and renews the reader cookie).
	 * Used when a socket could not even open, to tell "lab offline" from "refused".
	 */
	probe: () => Promise<boolean>;
	backoff?: BackoffOptions;
	/** Sent with every attach: the page the reader is on, or (instructor) the student to watch. */
	attach?: { page?: string; student?: string; tail?: number };
	/**
	 * Runs wait, once attached, until {@link TerminalConnection.resize} has given the screen's size:
	 * the panel attaches while xterm is still loading, and a block typed into a pty of another width
	 * is laid out by readline for that width.
	 * @default false
	 */
	runsWaitForSize?: boolean;
}

/** Largest binary frame sent; the gateway's default `maxPayloadBytes` is 64 KiB. */
export const INPUT_CHUNK_BYTES = 16 * 1024;

/** Consecutive internal errors (1011, e.g. the lab cannot start a shell) before giving up. */
const MAX_INTERNAL_FAILURES = 4;
/** Consecutive refused upgrades while the HTTP API answers before giving up. */
const MAX_REFUSED_UPGRADES = 3;

export class TerminalConnection {
	readonly term: string;
	readonly #options: TerminalConnectionOptions;
	readonly #listener: ConnectionListener;
	/** This socket's acks, in batches of the size its `ready` gave; null until then. */
	#acks: AckCoalescer | null = null;
	#socket: SocketLike | null = null;
	/** Incremented per socket, so events and acks of an old socket are recognised and ignored. */
	#generation = 0;
	#opened = false;
	#attached = false;
	/** Offset of the next output byte: everything before it was handed to the screen. */
	#offset = 0;
	/** The `since` sent in the current socket's attach. */
	#since = 0;
	#retryAttempt = 0;
	#refusedUpgrades = 0;
	#internalFailures = 0;
	#retryTimer: ReturnType<typeof setTimeout> | null = null;
	readonly #runs = new RunLedger();
	/** An `error` message explaining the close that follows it. */
	#lastError: { code: string; message: string } | null = null;
	#exitCode: number | null = null;
	#size: { cols: number; rows: number } | null = null;
	#status: ConnectionStatus = { state: 'closed' };

	constructor(options: TerminalConnectionOptions) {
		this.term = options.term;
		this.#options = options;
		this.#listener = options.listener;
	}

	get status(): ConnectionStatus {
		return this.#status;
	}

	/** Offset of the next output byte (what a reconnect asks for). */
	get offset(): number {
		return this.#offset;
	}

	/** Opens the socket if there is none. */
	connect(): void {
		if (this.#socket) return;
		this.#clearRetry();
		const fresh = ['closed', 'ended', 'failed'].includes(this.#status.state);
		if (fresh) this.#setStatus({ state: 'connecting' });
		const generation = ++this.#generation;
		const current = () => generation === this.#generation;
		this.#opened = false;
		this.#attached = false;
		this.#socket = this.#options.openSocket(this.#options.url, {
			open: () => current() && this.#onOpen(),
			message: (data) => current() && this.#onMessage(data),
			close: (code, reason) => current() && this.#onClose(code, reason),
		});
	}

	/** Keyboard input, as bytes. Dropped while not attached: there is no shell to type into. */
	input(bytes: Uint8Array): void {
		if (!this.#attached) return;
		for (let start = 0; start < bytes.length; start += INPUT_CHUNK_BYTES) {
			this.#socket!.send(bytes.subarray(start, start + INPUT_CHUNK_BYTES));
		}
	}

	/** The terminal's size on screen; sent now and with every (re)attach. */
	resize(cols: number, rows: number): void {
		if (this.#size?.cols === cols && this.#size.rows === rows) return;
		this.#size = { cols, rows };
		if (!this.#opened) return;
		this.#send({ t: 'resize', cols, rows });
		this.#sendQueued();
	}

	signal(name: SignalName): void {
		if (this.#attached) this.#send({ t: 'signal', name });
	}

	/** Instructor only: start or stop typing into the watched student's terminal. */
	takeover(on: boolean): void {
		if (this.#attached) this.#send({ t: 'takeover', on });
	}

	/** "Still here": resets the class-mode idle limit after an expiry warning. */
	extend(): void {
		if (this.#attached) this.#send({ t: 'extend' });
	}

	/** Types a block into the shell: now if the socket is open, else once it is. */
	run(run: TerminalRun): void {
		const { state } = this.#status;
		if (state === 'ended' || state === 'failed') {
			this.#listener.runUndelivered?.(run, state);
			return;
		}
		if (this.#opened && this.#mayRun()) {
			this.#sendRun(run);
			return;
		}
		this.#runs.queue(run);
		// While reconnecting or offline, a click also means "try now": if the lab is still offline,
		// the run comes back undelivered within one probe, and the panel copies it instead.
		this.#retryAttempt = 0;
		this.connect();
	}

	/** Retry at once instead of waiting for the backoff timer. */
	retryNow(): void {
		if (this.#status.state === 'reconnecting' || this.#status.state === 'offline') {
			this.#retryAttempt = 0;
			this.connect();
		}
	}

	/** A new shell after the old one ended (or after a failure the reader fixed). The screen is the caller's to clear. */
	restart(): void {
		this.#closeSocket(1000, 'restart');
		this.#offset = 0;
		this.#exitCode = null;
		this.#retryAttempt = 0;
		this.#refusedUpgrades = 0;
		this.#internalFailures = 0;
		this.#setStatus({ state: 'closed' });
		this.connect();
	}

	/** Detaches on purpose (the panel was closed). The shell lives on in the gateway for its grace period. */
	close(): void {
		this.#clearRetry();
		this.#closeSocket(1000, 'closed by the reader');
		this.#setStatus({ state: 'closed' });
		this.#dropQueued('closed');
	}

	/**
	 * Attaches, and sends the size and the runs that waited right behind the attach: the gateway
	 * handles what follows an attach in order once it has attached, so they need not wait a round trip
	 * for `ready` — which on a first Run arrives while the page draws xterm's first frame, tens of
	 * milliseconds of a busy main thread. A refused attach types none of them (see #onClose).
	 */
	#onOpen(): void {
		this.#opened = true;
		this.#since = this.#offset;
		this.#send({ t: 'attach', term: this.term, since: this.#since, ...this.#options.attach });
		if (this.#size) this.#send({ t: 'resize', ...this.#size });
		this.#sendQueued();
	}

	#onMessage(data: string | ArrayBuffer): void {
		if (typeof data !== 'string') {
			const bytes = new Uint8Array(data);
			this.#offset += bytes.length;
			const generation = this.#generation;
			this.#listener.output(bytes, () => {
				if (generation === this.#generation) this.#acks?.rendered(bytes.length);
			});
			return;
		}
		let message: unknown;
		try {
			message = JSON.parse(data);
		} catch {
			message = null;
		}
		if (!isServerMessage(message)) {
			// A gateway from another version; ignoring one message beats dropping the terminal.
			console.warn('[podlab] ignoring a message the gateway sent:', data.slice(0, 200));
			return;
		}
		switch (message.t) {
			case 'ready': {
				this.#attached = true;
				this.#acks = new AckCoalescer((bytes) => this.#send({ t: 'ack', bytes }), { batchBytes: message.ackBytes });
				this.#retryAttempt = 0;
				this.#refusedUpgrades = 0;
				this.#internalFailures = 0;
				const newShell = message.offset < this.#since;
				const lost = message.offset > this.#since ? message.lost : 0;
				this.#offset = message.offset;
				this.#runs.attached();
				this.#listener.attached({ created: message.created, newShell, lost });
				this.#setStatus({ state: 'connected' });
				break;
			}
			case 'status':
				this.#listener.busy?.(message.busy);
				break;
			case 'done':
				this.#runs.settle(message.block);
				this.#listener.done?.(message.block, message.exit);
				break;
			case 'exit':
				this.#exitCode = message.code;
				break;
			case 'expiry':
				this.#listener.expiry?.(message.reason, message.at);
				break;
			case 'takeover':
				this.#listener.takeover?.(message.on);
				break;
			case 'notice':
				this.#listener.notice?.(message.text);
				break;
			case 'size':
				this.#listener.size?.(message.cols, message.rows);
				break;
			case 'error':
				if (message.code === 'LAB_ERR_BUSY') {
					// The refused run by its block: a late "busy" can come after a later run was sent.
					const refused = message.block === undefined ? undefined : this.#runs.settle(message.block);
					if (refused) this.#listener.runRefused?.(refused);
				} else {
					this.#lastError = { code: message.code, message: message.message };
				}
				break;
		}
	}

	#onClose(code: number, reason: string): void {
		const opened = this.#opened;
		this.#socket = null;
		this.#opened = false;
		this.#attached = false;
		// What the old socket rendered and did not ack is forgotten: the gateway forgot it too.
		this.#acks = null;
		// Runs sent behind an attach that the gateway refused (it says why before it closes) were never
		// typed: they wait for what the close decides (a retry sends them on the next socket; an end
		// reports them undelivered). Those of a socket that just broke may have been typed: lost.
		if (errorOfClose(code, this.#lastError?.code ?? reason)) this.#runs.attachRefused();
		else this.#runs.socketGone();
		this.#loseInFlight();
		const error = this.#lastError;
		this.#lastError = null;
		// What to do next is the error table's to say (ERRORS[code].after), not the close code's.
		const errorCode = errorOfClose(code, error?.code ?? reason);
		const after = errorCode ? ERRORS[errorCode].after : 'retry';
		const message = error?.message ?? (errorCode ? ERRORS[errorCode].text : `The connection was closed (code ${code}).`);

		if (after === 'ended') {
			// The shell's own end carries its exit status; the other ends (idle, class over) say why.
			const shellEnded = errorCode === 'LAB_ERR_ENDED' || errorCode === 'LAB_ERR_NO_SUCH_TERMINAL';
			this.#setStatus(shellEnded ? { state: 'ended', exitCode: this.#exitCode } : { state: 'ended', exitCode: null, reason: message });
			this.#dropQueued('ended');
		} else if (after === 'stop') {
			this.#fail(errorCode ?? `close ${code}`, message);
		} else if (!opened) {
			void this.#afterRefusedUpgrade();
		} else if ((errorCode === 'LAB_ERR_INTERNAL' || errorCode === 'LAB_ERR_SPAWN') && ++this.#internalFailures > MAX_INTERNAL_FAILURES) {
			this.#fail(errorCode, message);
		} else {
			const causes: Partial<Record<string, string>> = { LAB_ERR_SHUTDOWN: 'The lab is restarting', LAB_ERR_LAB_RESET: 'Your lab was reset', LAB_ERR_LAB_PREPARING: message };
			const cause = (errorCode && causes[errorCode]) ?? 'The connection dropped';
			this.#scheduleRetry(cause, errorCode ?? undefined);
		}
	}

	/**
	 * Browsers do not say why an upgrade failed (401 and 403 look like a network error), so ask the
	 * HTTP API: no answer means the lab is offline; an answer means the upgrade itself was refused.
	 */
	async #afterRefusedUpgrade(): Promise<void> {
		const generation = this.#generation;
		const reachable = await this.#options.probe().catch(() => false);
		// The reader closed the panel or restarted meanwhile.
		if (generation !== this.#generation || this.#socket || this.#status.state === 'closed') return;
		if (!reachable) {
			const retryInMs = backoffDelay(this.#retryAttempt++, { maxMs: 30_000, ...this.#options.backoff });
			this.#setStatus({ state: 'offline', retryInMs });
			this.#dropQueued('offline');
			this.#retryTimer = setTimeout(() => this.connect(), retryInMs);
			return;
		}
		if (++this.#refusedUpgrades >= MAX_REFUSED_UPGRADES) {
			this.#fail(
				'refused',
				'The lab refused the terminal connection. Open the site at the address the trainer gave you, or reload the page.',
			);
			return;
		}
		this.#scheduleRetry('Connecting');
	}

	#scheduleRetry(cause: string, code?: string): void {
		const retryInMs = backoffDelay(this.#retryAttempt++, this.#options.backoff);
		this.#setStatus({ state: 'reconnecting', retryInMs, cause, ...(code ? { code } : {}) });
		this.#retryTimer = setTimeout(() => this.connect(), retryInMs);
	}

	#fail(code: string, message: string): void {
		this.#setStatus({ state: 'failed', code, message });
		this.#dropQueued('failed');
	}

	#sendRun(run: TerminalRun): void {
		this.#runs.sent(run, !this.#attached);
		this.#send({ t: 'run', code: run.code, block: run.block, ...(run.interrupt ? { interrupt: true } : {}) });
	}

	#mayRun(): boolean {
		return this.#size !== null || !this.#options.runsWaitForSize;
	}

	/** The runs that waited for the attach (and the size), in the order they were asked for. */
	#sendQueued(): void {
		if (!this.#mayRun()) return;
		for (const run of this.#runs.takeQueued()) this.#sendRun(run);
	}

	#dropQueued(reason: UndeliveredReason): void {
		for (const run of this.#runs.takeQueued()) this.#listener.runUndelivered?.(run, reason);
	}

	/** The runs in flight on a socket that is gone: their results will never come. */
	#loseInFlight(): void {
		const lost = this.#runs.takeInFlight();
		if (lost.length > 0) this.#listener.resultsLost?.(lost);
	}

	#send(message: ClientMessage): void {
		this.#socket?.send(encodeClientMessage(message));
	}

	#closeSocket(code: number, reason: string): void {
		const socket = this.#socket;
		this.#socket = null;
		this.#opened = false;
		this.#attached = false;
		// What the old socket rendered and did not ack is forgotten: the gateway forgot it too.
		this.#acks = null;
		this.#runs.socketGone();
		// Events of the old socket, including its close, are ignored from here on.
		this.#generation++;
		socket?.close(code, reason);
		this.#loseInFlight();
	}

	#clearRetry(): void {
		if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
		this.#retryTimer = null;
	}

	#setStatus(status: ConnectionStatus): void {
		this.#status = status;
		this.#listener.status(status);
	}
}

/** Adapts the browser's WebSocket to {@link OpenSocket}. */
export const openBrowserSocket: OpenSocket = (url, handlers) => {
	const socket = new WebSocket(url);
	socket.binaryType = 'arraybuffer';
	socket.onopen = () => handlers.open();
	socket.onmessage = (event: MessageEvent<string | ArrayBuffer>) => handlers.message(event.data);
	socket.onclose = (event) => handlers.close(event.code, event.reason);
	return {
		send: (data) => socket.send(data),
		close: (code, reason) => socket.close(code, reason),
	};
};
