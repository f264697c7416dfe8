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
import { encodeClientMessage } from '../../protocol-values.ts';
import type { ClientMessage, SignalName } from '../../protocol.ts';
import { AckCoalescer } from './ack-coalescer.ts';
import { backoffDelay } from './backoff.ts';
import type { SocketLike } from './browser-socket.ts';
import { closeOutcome } from './close-outcome.ts';
import type { ConnectionListener, ConnectionStatus, TerminalConnectionOptions, TerminalRun, UndeliveredReason } from './connection-types.ts';
import { RunLedger } from './run-ledger.ts';

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
		const outcome = closeOutcome(code, reason, this.#lastError);
		this.#lastError = null;
		this.#forgetSocket();
		// Runs sent behind an attach that the gateway refused (it says why before it closes) were never
		// typed: they wait for what the close decides (a retry sends them on the next socket; an end
		// reports them undelivered). Those of a socket that just broke may have been typed: lost.
		if (outcome.error) this.#runs.attachRefused();
		else this.#runs.socketGone();
		this.#loseInFlight();
		if (outcome.next === 'ended') {
			this.#setStatus(outcome.shellEnded ? { state: 'ended', exitCode: this.#exitCode } : { state: 'ended', exitCode: null, reason: outcome.reason });
			this.#dropQueued('ended');
		} else if (outcome.next === 'stop') {
			this.#fail(outcome.code, outcome.message);
		} else if (!opened) {
			void this.#afterRefusedUpgrade();
		} else if (outcome.internal && ++this.#internalFailures > MAX_INTERNAL_FAILURES) {
			this.#fail(outcome.error!, outcome.message);
		} else {
			this.#scheduleRetry(outcome.cause, outcome.error ?? undefined);
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
		this.#forgetSocket();
		this.#runs.socketGone();
		// Events of the old socket, including its close, are ignored from here on.
		this.#generation++;
		socket?.close(code, reason);
		this.#loseInFlight();
	}

	#forgetSocket(): void {
		this.#socket = null;
		this.#opened = false;
		this.#attached = false;
		// What the old socket rendered and did not ack is forgotten: the gateway forgot it too.
		this.#acks = null;
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
