/**
 * One WebSocket of a reader: reads its frames (binary = keyboard input, text = control messages),
 * attaches it to one of the reader's terminals, and relays the terminal's output and events back.
 * Whatever the client sends, the worst outcome is that this socket is closed with a stable code.
 */
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import * as z from 'zod/mini';
import {
	LabError,
	encodeServerMessage,
	parseClientMessage,
	type ClientMessage,
	type ErrorCode,
	type ServerMessage,
} from '../src/protocol.ts';
import { TakeOver, VIEWER_RIGHTS, watchedTerminal } from './class/instructor-view.ts';
import { MessageRate } from './message-rate.ts';
import type { Reader, ReaderRegistry } from './readers.ts';
import type { Terminal, TerminalPeer } from './terminal/terminal.ts';

// The protocol's schemas are zod/mini's, which load no messages (for the browser's sake); the
// gateway tells a client in English what was wrong with its message.
z.config(z.locales.en());

/** A socket that has not asked for a terminal by then is closed: an open socket costs the gateway a descriptor. */
export const ATTACH_DEADLINE_MS = 10_000;
/**
 * While a socket is not read (its shell takes no input), it is pinged this often: a client that went
 * away cannot say so on a socket nobody reads, but a write to it fails, and that closes it.
 */
const PAUSED_PING_MS = 2_000;

export class Attachment implements TerminalPeer {
	readonly #socket: WebSocket;
	readonly #reader: Reader;
	readonly #readers: ReaderRegistry;
	readonly #rate: MessageRate;
	readonly #logger: Logger;
	#terminal: Terminal | null = null;
	/** An instructor's socket: it may only watch a student's terminal, and type once it takes over. */
	readonly #instructor: boolean;
	#viewing = false;
	/**
	 * Messages that arrived while the terminal was starting; handled, in order, once it is attached.
	 * The socket is not read meanwhile, so they are at most what ws had already buffered.
	 */
	#queued: Array<{ data: RawData; isBinary: boolean }> | null = null;
	#closed = false;
	#attachDeadline: NodeJS.Timeout | null;
	/** Set while the socket is not read because its shell's input queue is full: pings it. */
	#inputPause: NodeJS.Timeout | null = null;

	constructor(socket: WebSocket, reader: Reader, readers: ReaderRegistry, messagesPerSecond: number, logger: Logger, instructor = false) {
		this.#instructor = instructor;
		this.#socket = socket;
		this.#reader = reader;
		this.#readers = readers;
		this.#rate = new MessageRate(messagesPerSecond);
		this.#logger = logger;
		socket.on('message', (data, isBinary) => this.#onFrame(data, isBinary));
		socket.on('ping', (data) => {
			if (this.#closed || !this.#withinRate()) return;
			this.#socket.pong(data);
		});
		socket.on('close', () => this.#onClose());
		this.#attachDeadline = setTimeout(() => this.#close(new LabError('LAB_ERR_ATTACH_TIMEOUT')), ATTACH_DEADLINE_MS);
		socket.on('error', (error: Error & { code?: string }) => {
			// ws has already closed the socket with the matching close code (1009 for maxPayload).
			this.#logger.info({ reader: reader.label, code: error.code }, 'socket error');
		});
	}

	output(data: Buffer): void {
		if (!this.#closed) this.#socket.send(data, { binary: true });
	}

	message(message: ServerMessage): void {
		if (!this.#closed) this.#socket.send(encodeServerMessage(message));
	}

	ended(code: ErrorCode): void {
		this.#terminal = null;
		this.#close(new LabError(code));
	}

	/** The terminal took the input this socket was held back for: read the socket again. */
	inputDrained(): void {
		if (!this.#inputPause) return;
		clearInterval(this.#inputPause);
		this.#inputPause = null;
		if (!this.#closed) this.#socket.resume();
	}

	#onFrame(data: RawData, isBinary: boolean): void {
		if (this.#closed) return;
		if (this.#queued) {
			this.#queued.push({ data, isBinary });
			return;
		}
		try {
			if (isBinary) {
				if (this.#withinRate()) this.#onInput(data as Buffer);
				return;
			}
			const message = parseClientMessage(data.toString());
			// An ack of output still owed is flow control doing its job, at whatever rate the output
			// flows: only acks beyond what was sent count against the message rate.
			if ((message.t !== 'ack' || !this.#terminal?.owes(this)) && !this.#withinRate()) return;
			this.#onMessage(message);
		} catch (error) {
			this.#close(internal(error));
		}
	}

	/** Counts a message against the socket's budget; past it, closes the socket (LAB_ERR_RATE) and says false. */
	#withinRate(): boolean {
		if (this.#rate.take()) return true;
		this.#close(new LabError('LAB_ERR_RATE'));
		return false;
	}

	#onInput(data: Buffer): void {
		if (!this.#terminal) throw new LabError('LAB_ERR_NOT_ATTACHED');
		// An instructor watching types only once they take over (instructor-view.ts).
		const result = this.#terminal.input(this, data);
		if (result === 'read-only') return this.#error(new LabError('LAB_ERR_READ_ONLY'));
		this.#readers.recordActivity(this.#reader);
		// Backpressure: the shell does not read, so this socket is not read either until it does (for a while).
		if (result === 'wait' && !this.#inputPause) {
			this.#socket.pause();
			this.#inputPause = setInterval(() => this.#socket.ping(), PAUSED_PING_MS);
		} else if (result === 'refused') {
			this.#error(new LabError('LAB_ERR_INPUT_FULL'));
		}
	}

	#onAck(terminal: Terminal, bytes: number): void {
		const result = terminal.ack(this, bytes);
		if (result !== 'ok') throw new LabError('LAB_ERR_BAD_ACK', result === 'nothing-owed' ? 'An ack must acknowledge at least one byte.' : `An ack of ${bytes} bytes is more than was sent.`);
	}

	#onMessage(message: ClientMessage): void {
		if (message.t === 'attach') {
			if (this.#terminal) throw new LabError('LAB_ERR_ALREADY_ATTACHED');
			if (message.student !== undefined && !this.#instructor) throw new LabError('LAB_ERR_FORBIDDEN');
			if (this.#instructor && message.student === undefined) {
				throw new LabError('LAB_ERR_BAD_MESSAGE', 'An instructor socket attaches to a student’s terminal: give "student".');
			}
			this.#clearAttachDeadline();
			if (message.student !== undefined) return this.#watch(message.student, message.term, message.since, message.tail);
			if (message.page !== undefined) this.#readers.recordPage(this.#reader, message.page);
			void this.#attach(message.term, message.since, message.tail);
			return;
		}
		const terminal = this.#terminal;
		if (!terminal) throw new LabError('LAB_ERR_NOT_ATTACHED');
		if (this.#viewing) {
			// Watching: only taking over, and acks; typing once taken over (see #onInput).
			if (message.t === 'takeover') {
				const takeOver = TakeOver.of(terminal);
				if (!message.on) takeOver.release(this);
				else if (!takeOver.take(this)) {
					// Another instructor page has it: this one is told it does not.
					this.#error(new LabError('LAB_ERR_TAKEN_OVER'));
					this.message({ t: 'takeover', on: false });
					return;
				}
				this.#logger.info({ terminal: terminal.id, on: message.on }, 'instructor take-over');
			} else if (message.t === 'ack') {
				this.#onAck(terminal, message.bytes);
			} else {
				this.#error(new LabError('LAB_ERR_READ_ONLY'));
			}
			return;
		}
		switch (message.t) {
			case 'takeover':
				throw new LabError('LAB_ERR_FORBIDDEN');
			case 'resize':
				terminal.resize(message.cols, message.rows);
				break;
			case 'ack':
				this.#onAck(terminal, message.bytes);
				break;
			case 'signal':
				terminal.signal(message.name).catch((error) => this.#close(internal(error)));
				break;
			case 'extend':
				this.#readers.recordActivity(this.#reader);
				break;
			case 'run':
				this.#readers.recordActivity(this.#reader);
				terminal
					.run(message.code, message.block, message.interrupt ?? false)
					.then((result) => result === 'busy' && this.#error(new LabError('LAB_ERR_BUSY'), message.block))
					.catch((error) => this.#close(internal(error)));
				break;
		}
	}

	async #attach(name: string, since: number, tail: number | undefined): Promise<void> {
		this.#queued = [];
		// A shell may take seconds to start (a lab being made): the client's next frames wait in TCP.
		this.#socket.pause();
		try {
			const { terminal, created } = await this.#readers.openTerminal(this.#reader, name);
			if (this.#closed) return;
			this.#terminal = terminal;
			terminal.attach(this, { since, created, tail });
		} catch (error) {
			this.#close(internal(error));
			return;
		}
		const queued = this.#queued;
		this.#queued = null;
		for (const { data, isBinary } of queued) {
			if (this.#closed) return;
			this.#onFrame(data, isBinary);
		}
		// Unless the queued input filled the shell's input queue (then inputDrained resumes it).
		if (!this.#closed && !this.#inputPause) this.#socket.resume();
	}

	/** An instructor watches a student's existing terminal; watching never starts one. */
	#watch(student: string, name: string, since: number, tail: number | undefined): void {
		const terminal = watchedTerminal(this.#readers, student, name);
		this.#terminal = terminal;
		this.#viewing = true;
		terminal.attach(this, { since, tail, ...VIEWER_RIGHTS });
	}

	/** Tells the client of `error` (one that does not end the socket, or the one before the close); `block`: the run it refuses. */
	#error(error: LabError, block?: string): void {
		this.message({ t: 'error', code: error.code, message: error.message, ...(block === undefined ? {} : { block }) });
	}

	#close(error: LabError): void {
		if (this.#closed) return;
		if (error.code === 'LAB_ERR_INTERNAL') {
			this.#logger.error({ reader: this.#reader.label, err: error.cause }, 'closing socket after an internal error');
		} else if (error.code !== 'LAB_ERR_ENDED' && error.code !== 'LAB_ERR_SHUTDOWN' && error.code !== 'LAB_ERR_LAB_RESET') {
			this.#logger.info({ reader: this.#reader.label, code: error.code, detail: error.message }, 'closing socket');
		}
		this.#error(error);
		this.#closed = true;
		this.#clearAttachDeadline();
		this.#terminal?.detach(this);
		this.#terminal = null;
		// A socket paused (its shell starting, or its input queue full) must be read for the close handshake.
		this.#socket.resume();
		this.#socket.close(error.closeCode, error.code);
	}

	#clearAttachDeadline(): void {
		if (this.#attachDeadline) clearTimeout(this.#attachDeadline);
		this.#attachDeadline = null;
		if (this.#inputPause) clearInterval(this.#inputPause);
		this.#inputPause = null;
	}

	#onClose(): void {
		this.#closed = true;
		this.#clearAttachDeadline();
		this.#terminal?.detach(this);
		this.#terminal = null;
	}
}

/** Errors we know become their own code; anything else is ours, not the client's. */
function internal(error: unknown): LabError {
	return error instanceof LabError ? error : new LabError('LAB_ERR_INTERNAL', undefined, { cause: error });
}
