/**
 * A terminal in a lab, through podlab's terminal relay (lab/incus/files/terminal-relay.c): an Incus
 * exec of `podlab-terminal-relay attach`, which starts or finds the terminal's daemon in the lab and
 * hands it the gateway's end: a connection to the gateway's socket for the lab (terminal-sockets.ts),
 * or, where the lab has none, the exec's stdin and stdout. Either way the frames are the same. The
 * daemon holds the shell's pty, so the shell outlives the gateway; a gateway that attaches again gets
 * the daemon's ring of recent output first.
 *
 * Why not tmux, which the ssh backend uses: tmux's control mode escapes every byte of output with a
 * printf of its own, and was the lab path's floor (5.3 MB/s in a lab with no podlab at all, against
 * the exec's 167 MB/s: docs/performance.md). The relay hands over the pty's bytes as read, keys go in
 * as bytes, and backpressure is the pty's own both ways: no command queue, no pending checks.
 *
 * The lab's root can replace the relay, so what comes back is bounded and parsed defensively: frames
 * of known types only, a replay of at most {@link RELAY_LIMITS}.replayBytes, an attach answered
 * within firstReplyMs; a relay that breaks one is ended and its terminal told why.
 */
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import type { ExecSession } from '../../../lab/incus/incus-api.ts';
import { TERMINAL_RELAY_BINARY } from '../../../lab/incus/names.ts';
import type { SignalName } from '../../../src/protocol.ts';
import type { LabProblem, LabProcess, ProcessEvents } from '../backend.ts';
import { TmuxAnsweredQueries } from '../tmux/answered-queries.ts';
import type { DirectAttach } from './terminal-sockets.ts';

/** What `podlab-terminal-relay protocol` says in a lab whose relay can use the gateway's socket. */
export const RELAY_PROTOCOL = '2';

export const RELAY_LIMITS = {
	/** The ring the relay replays is 256 KiB; a replay past this is not the relay's. */
	replayBytes: 1024 * 1024,
	/** Standard error over a terminal's life (the relay's complaints are a line or two). */
	stderrBytes: 64 * 1024,
	/** From the start of the exec to the relay's answer to the attach, on either path. */
	firstReplyMs: 20_000,
};

const HEADER = 3;
/** What the relay sends: attached, replay, output, busy, exit. */
const FRAME_TYPES = 'hpobx';
const MAX_PAYLOAD = 0xffff;

/** The command that attaches a terminal to its relay session, over the gateway's socket when `direct` is given. */
export function attachCommand(session: string, nonce: string, cols: number, rows: number, term: string, direct?: Pick<DirectAttach, 'socket' | 'token'>): string[] {
	return [TERMINAL_RELAY_BINARY, 'attach', session, nonce, String(cols), String(rows), term, ...(direct ? [direct.socket, direct.token] : [])];
}

/** The command that ends every relay session whose name matches `pattern`. */
export function endCommand(pattern: string): string[] {
	return [TERMINAL_RELAY_BINARY, 'end', pattern];
}

function frame(type: string, payload: Buffer): Buffer {
	const header = Buffer.from([type.charCodeAt(0), payload.length >> 8, payload.length & 0xff]);
	return Buffer.concat([header, payload]);
}


/** What carries the relay's frames: the exec itself, or the connection to the gateway's socket. */
interface RelayLink {
	write(data: Buffer): boolean;
	readonly queuedBytes: number;
	pause(): void;
	resume(): void;
	close(): void;
	/** Resolves once the link is closed, with the exec's status (-1 for a socket). */
	readonly exited: Promise<number>;
}

function socketLink(socket: Socket, handlers: { data(chunk: Buffer): void; drain(): void }): RelayLink {
	socket.on('data', handlers.data);
	socket.on('drain', handlers.drain);
	// An error ends in 'close'.
	socket.on('error', () => {});
	return {
		write: (data) => socket.write(data),
		get queuedBytes() {
			return socket.writableLength;
		},
		pause: () => socket.pause(),
		resume: () => socket.resume(),
		close: () => socket.destroy(),
		exited: new Promise((resolve) => socket.once('close', () => resolve(-1))),
	};
}

export interface RelayOptions {
	nonce: string;
	/** Ends the terminal's relay session in the lab, with its shell and what that left running. Logs, never throws. */
	endSession(): Promise<void>;
	/** The relay answered the attach, over the gateway's socket (`direct`) or the exec. */
	onAttached?(direct: boolean): void;
}

/**
 * The gateway's end of one relay attach. Made before the exec starts (its handlers go to Incus),
 * then given the exec's session, and the wait for the direct connection when there is one, with
 * {@link RelayProcess.start}. The first of the two to carry frames is the terminal's link; an exec
 * that ends with status 0 before any frame has handed the relay the socket.
 */
export class RelayProcess implements LabProcess {
	readonly pid = -1;
	/** The handlers for the exec's output. */
	readonly handlers = {
		stdout: (chunk: Buffer) => this.#fromExec(chunk),
		stderr: (chunk: Buffer) => this.#onStderr(chunk),
		drain: () => this.#events.drain(),
	};
	readonly #options: RelayOptions;
	readonly #events: ProcessEvents;
	readonly #limits: typeof RELAY_LIMITS;
	/** Queries xterm.js would answer again when replayed output holds them: the same that tmux answered. */
	readonly #replayQueries = new TmuxAnsweredQueries();
	#exec: ExecSession | null = null;
	#execEnded = false;
	#direct: DirectAttach | null = null;
	/** While the attach may still come over the gateway's socket. */
	#waitingDirect = false;
	/** The relay answered over the exec (perhaps before the exec's promise settled). */
	#framesOnExec = false;
	#link: RelayLink | null = null;
	/** Frames written before the link was known. */
	#queued: Buffer[] = [];
	#queuedBytes = 0;
	#paused = false;
	#ended = false;
	#held: Buffer | null = null;
	#attached = false;
	#replayed = 0;
	#stderrBytes = 0;
	#status: number | null = null;
	#problem: LabProblem | null = null;
	#failure = '';
	#firstReply: NodeJS.Timeout | null = null;
	readonly #exited: Promise<void>;
	#resolveExited!: () => void;
	#detaching: Promise<void> | null = null;
	#killing: Promise<void> | null = null;

	constructor(options: RelayOptions, events: ProcessEvents, limits: typeof RELAY_LIMITS = RELAY_LIMITS) {
		this.#options = options;
		this.#events = events;
		this.#limits = limits;
		this.#exited = new Promise((resolve) => (this.#resolveExited = resolve));
	}

	/**
	 * Takes the exec running {@link attachCommand} (which says the attach's size itself), and the
	 * attach's wait for its connection when it was given the gateway's socket, and waits for the
	 * relay's answer on either within the deadline.
	 */
	start(exec: ExecSession, direct?: DirectAttach): void {
		this.#exec = exec;
		this.#direct = direct ?? null;
		this.#waitingDirect = direct !== undefined;
		void direct?.connection.then((socket) => this.#connected(socket));
		// Without the gateway's socket, or once the relay answered on the exec, the exec is the link.
		if (!direct || this.#framesOnExec) {
			this.#cancelDirect();
			this.#use(exec);
		}
		// The exec's output may come before the exec's promise settles: the relay may have answered
		// already, or broken a bound (and its session could not be closed then).
		if (this.#problem) this.#closeAll();
		else if (!this.#attached) this.#firstReply = setTimeout(() => this.#fail('LAB_ERR_LAB_TIMEOUT', `no answer from the terminal relay within ${this.#limits.firstReplyMs} ms`), this.#limits.firstReplyMs);
		void exec.exited.then((code) => {
			this.#execEnded = true;
			// Status 0 before any frame: the relay took the gateway's socket, whose connection comes.
			if (this.#link === exec || (!this.#link && !(code === 0 && this.#waitingDirect))) this.#end(code);
		});
	}

	/** Whether the terminal's frames go over the gateway's socket (null while neither path carried any). */
	get direct(): boolean | null {
		return this.#link && this.#link !== this.#exec;
	}

	/** Why the relay was ended for misbehaving, and what it did (for logs); null while it behaves. */
	get failure(): { problem: LabProblem; what: string } | null {
		return this.#problem && { problem: this.#problem, what: this.#failure };
	}

	write(data: Buffer): boolean {
		let ok = true;
		for (let at = 0; at < data.length; at += MAX_PAYLOAD) ok = this.#send(frame('i', data.subarray(at, at + MAX_PAYLOAD)));
		return ok;
	}

	get queuedInputBytes(): number {
		return this.#link ? this.#link.queuedBytes : this.#queuedBytes;
	}

	resize(cols: number, rows: number): void {
		const size = Buffer.alloc(4);
		size.writeUInt16BE(cols, 0);
		size.writeUInt16BE(rows, 2);
		this.#send(frame('r', size));
	}

	pauseOutput(): void {
		this.#paused = true;
		this.#link?.pause();
	}

	resumeOutput(): void {
		this.#paused = false;
		this.#link?.resume();
	}

	async signalForeground(name: SignalName): Promise<void> {
		this.#send(frame('s', Buffer.from([constants.signals[name]])));
	}

	/** Lets go of the link; the relay's daemon keeps the shell for the next gateway. Idempotent. */
	detach(): Promise<void> {
		this.#detaching ??= this.#letGo();
		return this.#detaching;
	}

	/** Ends the relay session in the lab, then lets go. Idempotent. */
	kill(): Promise<void> {
		this.#killing ??= this.#options.endSession().then(() => this.detach());
		return this.#killing;
	}

	async #letGo(): Promise<void> {
		// Incus kills the attach once its sockets are gone, and a closed socket is gone at once; the daemon takes either as a detach.
		this.#closeAll();
		if (this.#exec) await this.#exited;
	}

	#cancelDirect(): void {
		if (!this.#waitingDirect) return;
		this.#waitingDirect = false;
		this.#direct?.cancel();
	}

	#closeAll(): void {
		this.#cancelDirect();
		this.#exec?.close();
		this.#link?.close();
	}

	/** The terminal ended: once, after its link closed (or the attach failed before it had one). */
	#end(code: number): void {
		if (this.#ended) return;
		this.#ended = true;
		this.#clearFirstReply();
		this.#cancelDirect();
		this.#queued = [];
		this.#events.exit(this.#status ?? code, this.#problem ?? undefined);
		this.#resolveExited();
	}

	#send(data: Buffer): boolean {
		if (this.#problem || this.#ended) return true;
		if (this.#link) return this.#link.write(data);
		this.#queued.push(data);
		this.#queuedBytes += data.length;
		return true;
	}

	/** `link` carries the frames from now on. */
	#use(link: RelayLink): void {
		this.#link = link;
		for (const data of this.#queued) link.write(data);
		this.#queued = [];
		this.#queuedBytes = 0;
		if (this.#paused) link.pause();
		else link.resume();
	}

	/** The relay connected to the gateway's socket (null: the wait was cancelled). */
	#connected(socket: Socket | null): void {
		this.#waitingDirect = false;
		if (!socket) {
			if (!this.#link && this.#execEnded) this.#end(-1);
			return;
		}
		if (this.#link || this.#problem || this.#ended) {
			socket.destroy();
			return;
		}
		const link = socketLink(socket, { data: (chunk) => this.#onFrames(chunk), drain: () => this.#events.drain() });
		void link.exited.then((code) => this.#end(code));
		// The exec ends by itself once the relay's daemon has the connection (closing it now could kill
		// the attach before it handed the connection over).
		this.#use(link);
	}

	/** Output of the exec: the relay's frames, unless it handed them to the gateway's socket. */
	#fromExec(chunk: Buffer): void {
		if (this.#problem) return;
		if (!this.#link && !this.#framesOnExec) {
			this.#framesOnExec = true;
			this.#cancelDirect();
			if (this.#exec) this.#use(this.#exec);
		} else if (this.#link && this.#link !== this.#exec) {
			return this.#fail('LAB_ERR_LAB_OUTPUT', 'output on the exec after the attach went to the gateway’s socket');
		}
		this.#onFrames(chunk);
	}

	#clearFirstReply(): void {
		if (this.#firstReply) clearTimeout(this.#firstReply);
		this.#firstReply = null;
	}

	/** Ends the attach for `problem`: the gateway lets go of the link at once and reads nothing more. */
	#fail(problem: LabProblem, what: string): void {
		if (this.#problem) return;
		this.#problem = problem;
		this.#failure = what;
		this.#held = null;
		this.#clearFirstReply();
		this.#closeAll();
	}

	#onStderr(chunk: Buffer): void {
		if (this.#problem) return;
		const room = this.#limits.stderrBytes - this.#stderrBytes;
		this.#stderrBytes += chunk.length;
		const shown = chunk.length > room ? chunk.subarray(0, room) : chunk;
		if (shown.length > 0) this.#events.output(Buffer.from(shown.toString('utf8').replace(/\r?\n/g, '\r\n')));
		if (this.#stderrBytes > this.#limits.stderrBytes) this.#fail('LAB_ERR_LAB_OUTPUT', `more than ${this.#limits.stderrBytes} bytes on standard error`);
	}

	/** Splits the relay's stream into frames; output frames are handed on as slices of what was read, consecutive ones together. */
	#onFrames(chunk: Buffer): void {
		if (this.#problem) return;
		const data = this.#held ? Buffer.concat([this.#held, chunk]) : chunk;
		this.#held = null;
		const output: Buffer[] = [];
		let at = 0;
		while (data.length - at >= HEADER) {
			const type = String.fromCharCode(data[at]!);
			// A type is known from the first byte: bytes that are no frames are not waited on.
			if (!FRAME_TYPES.includes(type)) {
				this.#flush(output);
				return this.#fail('LAB_ERR_LAB_OUTPUT', `a frame of unknown type 0x${data[at]!.toString(16).padStart(2, '0')}`);
			}
			const length = data.readUInt16BE(at + 1);
			if (data.length - at < HEADER + length) break;
			const payload = data.subarray(at + HEADER, at + HEADER + length);
			at += HEADER + length;
			if (type === 'o' && this.#attached) {
				output.push(payload);
				continue;
			}
			this.#flush(output);
			const problem = this.#onFrame(type, payload);
			if (problem) return this.#fail('LAB_ERR_LAB_OUTPUT', problem);
		}
		this.#flush(output);
		if (at < data.length) this.#held = Buffer.from(data.subarray(at));
	}

	#flush(output: Buffer[]): void {
		if (output.length === 0) return;
		this.#events.output(output.length === 1 ? output[0]! : Buffer.concat(output));
		output.length = 0;
	}

	/** Takes one frame other than output; returns what was wrong with it, if anything. */
	#onFrame(type: string, payload: Buffer): string | null {
		if (!this.#attached) {
			if (type !== 'h' || payload.length !== 0) return `a frame of type ${JSON.stringify(type)} before the attach was answered`;
			this.#attached = true;
			this.#clearFirstReply();
			this.#options.onAttached?.(this.direct === true);
			return null;
		}
		switch (type) {
			case 'p': {
				this.#replayed += payload.length;
				if (this.#replayed > this.#limits.replayBytes) return `a replay of more than ${this.#limits.replayBytes} bytes`;
				const shown = this.#replayQueries.filter(payload);
				if (shown.length > 0) this.#events.output(shown);
				return null;
			}
			case 'b':
				this.#events.output(Buffer.from(`\x1b]133;C;nonce=${this.#options.nonce}\x07`));
				return null;
			case 'x': {
				const text = payload.toString('latin1');
				if (this.#status !== null || !/^\d{1,3}$/.test(text)) return `an exit frame ${JSON.stringify(text.slice(0, 16))}`;
				this.#status = Number(text);
				// The shell's exit, after all its output, as the shell integration says it (osc133.ts).
				this.#events.output(Buffer.from(`\x1b]133;Z;${this.#status};nonce=${this.#options.nonce}\x07`));
				return null;
			}
			default:
				return `a second answer to the attach`;
		}
	}
}

