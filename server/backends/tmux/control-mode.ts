/**
 * The gateway's end of a tmux control-mode client (`tmux -C`) running on a lab host over ssh (or in a
 * lab container), as the input and output of the terminal's pane.
 *
 * Why control mode rather than a plain `tmux attach` inside `ssh -tt`:
 * - A plain client gets tmux's redrawing of its screen, not the program's output: lines that scroll
 *   by within one read never reach the browser's scrollback. tmux (3.3) also drops the OSC 133
 *   markers, and the DCS passthrough that could carry them is dropped too whenever the client has a
 *   redraw pending — at attach, and after tmux discarded output for a client that fell behind — so a
 *   Run could wait forever for its `done`.
 * - Control mode hands over the pane's bytes exactly as written (`%output`), and while the client
 *   does not read, tmux stops reading the pane: the same backpressure as a local pty.
 *
 * Keyboard input becomes `send-keys -H` (the bytes as they are), a resize `refresh-client -C`. tmux
 * answers some terminal queries itself (device attributes, cursor position, …), so those are taken
 * out of what the browser gets: otherwise xterm.js would answer too, and the second answer would
 * reach the shell as typed input.
 * The host script (ssh/host.sh) adds a line of its own, `%podlab-busy` (the shell being reattached runs a command),
 * which becomes the shell-integration marker it stands for, with this terminal's nonce.
 */
import { INPUT_QUEUE_BYTES, type LabProblem, type ProcessEvents } from '../backend.ts';
import type { ControlPipes } from './control-pipes.ts';

export type ControlEvent =
	/** Bytes the pane's programs wrote. */
	| { kind: 'output'; data: Buffer }
	/**
	 * The reply to one command: its lines, between `%begin` and `%end` (or `%error`). `own`: the
	 * command came from this client's input (tmux's flag 1), not from the command line that started it.
	 */
	| { kind: 'reply'; lines: Buffer[]; error: boolean; own: boolean }
	/** A `%podlab-NAME VALUE` line from podlab-host.sh. */
	| { kind: 'podlab'; name: string; value: string }
	/** A line outside the protocol: something podlab-host.sh said. */
	| { kind: 'text'; data: Buffer }
	/** tmux's client is leaving. */
	| { kind: 'exit' }
	/** The far side broke a bound ({@link CONTROL_LIMITS}): nothing after it is read. */
	| { kind: 'overflow'; what: string };

/**
 * What the gateway takes from the lab's side of a terminal, which the lab's root controls (they can
 * replace tmux or the host script). tmux's own lines are far shorter: a `%output` line carries one
 * read of the pane (at most a few KiB, four bytes a byte escaped), a reply the screen and history
 * of a pane (`capture-pane`, history-limit lines).
 */
export const CONTROL_LIMITS = {
	/** Longest line, newline not counted. */
	lineBytes: 1024 * 1024,
	/** Longest reply, its lines together, and most lines in it (history-limit 5000 and a screen of at most 200 rows; server/shell/podlab-tmux.conf). */
	replyBytes: 8 * 1024 * 1024,
	replyLines: 6000,
	/** Standard error over a terminal's life (ssh's and the host script's complaints are a few lines). */
	stderrBytes: 64 * 1024,
	/** From the start of the client to tmux's first reply (the attach). */
	firstReplyMs: 20_000,
	/**
	 * From a command to its answer, counted while the gateway reads the client (a paused client
	 * cannot answer). tmux answers at once, but for the pending check, which runs a short script.
	 */
	replyMs: 20_000,
};

const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;

/**
 * Splits tmux's control-mode output into events. Feed it raw bytes as they come. Each byte is looked
 * at a bounded number of times: a line cut across chunks is kept as its pieces and joined once.
 */
export class ControlModeParser {
	readonly #limits: Pick<typeof CONTROL_LIMITS, 'lineBytes' | 'replyBytes' | 'replyLines'>;
	/** The start of a line cut by the end of a chunk, in pieces. */
	#pending: Buffer[] = [];
	#pendingBytes = 0;
	/** The reply being read: its command number, lines and their length. */
	#reply: { number: string; own: boolean; lines: Buffer[]; bytes: number } | null = null;
	#overflowed = false;

	constructor(limits: Pick<typeof CONTROL_LIMITS, 'lineBytes' | 'replyBytes' | 'replyLines'> = CONTROL_LIMITS) {
		this.#limits = limits;
	}

	feed(chunk: Buffer): ControlEvent[] {
		if (this.#overflowed) return [];
		const events: ControlEvent[] = [];
		let start = 0;
		for (let end = chunk.indexOf(NEWLINE); end >= 0; end = chunk.indexOf(NEWLINE, start)) {
			let line = chunk.subarray(start, end);
			start = end + 1;
			if (this.#pendingBytes > 0) {
				line = Buffer.concat([...this.#pending, line], this.#pendingBytes + line.length);
				this.#pending = [];
				this.#pendingBytes = 0;
			}
			const event = line.length > this.#limits.lineBytes ? this.#overflow(`a line of ${line.length} bytes`) : this.#line(line);
			if (event) events.push(event);
			if (this.#overflowed) return events;
		}
		if (start < chunk.length) {
			this.#pendingBytes += chunk.length - start;
			if (this.#pendingBytes > this.#limits.lineBytes) {
				events.push(this.#overflow(`a line longer than ${this.#limits.lineBytes} bytes`));
				return events;
			}
			this.#pending.push(Buffer.from(chunk.subarray(start)));
		}
		return events;
	}

	#overflow(what: string): ControlEvent {
		this.#overflowed = true;
		this.#pending = [];
		this.#pendingBytes = 0;
		this.#reply = null;
		return { kind: 'overflow', what };
	}

	#line(line: Buffer): ControlEvent | null {
		if (this.#reply) {
			// A reply line may be anything the command printed; only its own guard ends it.
			const guard = line[0] === 0x25 /* % */ ? /^%(end|error) \d+ (\d+) \d+$/.exec(line.toString('latin1')) : null;
			if (guard && guard[2] === this.#reply.number) {
				const { lines, own } = this.#reply;
				this.#reply = null;
				return { kind: 'reply', lines, error: guard[1] === 'error', own };
			}
			this.#reply.bytes += line.length + 1;
			if (this.#reply.bytes > this.#limits.replyBytes) return this.#overflow(`a reply longer than ${this.#limits.replyBytes} bytes`);
			if (this.#reply.lines.length >= this.#limits.replyLines) return this.#overflow(`a reply of more than ${this.#limits.replyLines} lines`);
			this.#reply.lines.push(Buffer.from(line));
			return null;
		}
		if (line[0] !== 0x25 /* % */) return { kind: 'text', data: Buffer.from(line) };
		const space = line.indexOf(0x20);
		const word = line.toString('latin1', 1, space < 0 ? line.length : space);
		switch (word) {
			case 'output': {
				// %output %<pane> <data>
				const dataStart = line.indexOf(0x20, space + 1);
				return dataStart < 0 ? null : { kind: 'output', data: decodeOutput(line.subarray(dataStart + 1)) };
			}
			case 'begin': {
				// %begin <time> <command number> <flags>
				const [, , number, flags] = line.toString('latin1').split(' ');
				if (number) this.#reply = { number, own: flags === '1', lines: [], bytes: 0 };
				return null;
			}
			case 'exit':
				return { kind: 'exit' };
			default:
				if (word.startsWith('podlab-')) {
					return { kind: 'podlab', name: word.slice('podlab-'.length), value: space < 0 ? '' : line.toString('utf8', space + 1) };
				}
				// Notifications (%session-changed, %layout-change, …): nothing a terminal needs.
				return null;
		}
	}
}

/** Undoes tmux's escaping of `%output` data: bytes below 32 and the backslash come as \ooo (octal). */
export function decodeOutput(data: Buffer): Buffer {
	if (!data.includes(BACKSLASH)) return Buffer.from(data);
	const decoded = Buffer.allocUnsafe(data.length);
	let length = 0;
	for (let index = 0; index < data.length; index++) {
		const byte = data[index]!;
		if (byte === BACKSLASH && isOctal(data[index + 1]) && isOctal(data[index + 2]) && isOctal(data[index + 3])) {
			decoded[length++] = ((data[index + 1]! - 48) << 6) | ((data[index + 2]! - 48) << 3) | (data[index + 3]! - 48);
			index += 3;
		} else {
			decoded[length++] = byte;
		}
	}
	return decoded.subarray(0, length);
}

function isOctal(byte: number | undefined): boolean {
	return byte !== undefined && byte >= 0x30 && byte <= 0x37;
}

/** CSI queries (parameters and final byte) that tmux 3.3 answers for the pane, checked on a real tmux. */
const ANSWERED_BY_TMUX = new Set(['c', '0c', '>c', '>0c', '5n', '6n', '>q', '>0q', '18t']);
const LONGEST_QUERY = 3;
const CSI_PARAMETER = (byte: number) => byte >= 0x20 && byte <= 0x3f;
const ESC = 0x1b;

/**
 * Takes the queries tmux answers out of a pane's output. A sequence cut by the end of a chunk is held
 * back until the next one: an unfinished escape sequence shows nothing, so nothing shows late.
 */
export class TmuxAnsweredQueries {
	#held: Buffer | null = null;

	filter(chunk: Buffer): Buffer {
		const data = this.#held ? Buffer.concat([this.#held, chunk]) : chunk;
		this.#held = null;
		const kept: Buffer[] = [];
		let copied = 0;
		for (let at = data.indexOf(ESC); at >= 0 && at < data.length; at = data.indexOf(ESC, at + 1)) {
			if (at + 1 === data.length || (data[at + 1] === 0x5b && this.#unfinished(data, at + 2))) {
				this.#held = Buffer.from(data.subarray(at));
				kept.push(data.subarray(copied, at));
				return Buffer.concat(kept);
			}
			if (data[at + 1] !== 0x5b) continue;
			let end = at + 2;
			while (end < data.length && CSI_PARAMETER(data[end]!)) end++;
			if (ANSWERED_BY_TMUX.has(data.toString('latin1', at + 2, end + 1))) {
				kept.push(data.subarray(copied, at));
				copied = end + 1;
			}
			at = end;
		}
		if (copied === 0) return data;
		kept.push(data.subarray(copied));
		return Buffer.concat(kept);
	}

	/** The CSI starting its parameters at `from` runs to the end of the data, still short enough to be a query. */
	#unfinished(data: Buffer, from: number): boolean {
		for (let index = from; index < data.length; index++) if (!CSI_PARAMETER(data[index]!)) return false;
		return data.length - from <= LONGEST_QUERY;
	}
}

/**
 * Commands sent to tmux ahead of its answers: enough to keep typing and pastes flowing (8 × 256
 * keys), few enough that tmux has little of a reader's input to work through after they left.
 */
const COMMANDS_IN_FLIGHT = 8;

/**
 * Keys typed into a pane before the gateway asks whether its program has read them. tmux takes every
 * `send-keys` at once and holds the keys its pane's terminal has no room for, so without asking, a
 * program that does not read (raw mode, `sleep`) would have tmux working through and holding all a
 * reader sends. With it, tmux holds at most this much for a pane, the gateway the rest, paused.
 */
export const INPUT_WINDOW_KEYS = 16 * 1024;

/** How soon to ask again while the pane's program has input it has not read: doubling, up to the last. */
const PENDING_RECHECK_MS = [20, 40, 80, 160, 320, 640, 1000];

/** Bytes per `send-keys` command: keeps each command line short (three characters a byte). */
const KEYS_PER_COMMAND = 256;

/** The `send-keys` commands that type `bytes` into `target` exactly, one key per byte. */
export function sendKeysCommands(target: string, bytes: Buffer): string[] {
	const commands: string[] = [];
	for (let at = 0; at < bytes.length; at += KEYS_PER_COMMAND) {
		const hex = [...bytes.subarray(at, at + KEYS_PER_COMMAND)].map((byte) => byte.toString(16).padStart(2, '0'));
		commands.push(`send-keys -t ${target} -H ${hex.join(' ')}`);
	}
	return commands;
}

/**
 * What the browser needs to show a reattached pane: its history and screen as tmux captured them
 * (`capture-pane -e`), then the cursor, moved relative to the last line since the browser's
 * terminal may be taller than the pane.
 */
export function replayScreen(lines: Buffer[], cursor: { x: number; y: number; height: number }): Buffer {
	const up = Math.max(0, cursor.height - 1 - cursor.y);
	const parts: Buffer[] = [Buffer.from('\x1b[m')];
	lines.forEach((line, index) => parts.push(index === 0 ? line : Buffer.concat([Buffer.from('\r\n'), line])));
	parts.push(Buffer.from(`\x1b[m${up > 0 ? `\x1b[${up}A` : ''}\x1b[${cursor.x + 1}G`));
	return Buffer.concat(parts);
}

/** A tmux command line and the keys it types into the pane (`send-keys`), 0 for any other command. */
interface Command {
	line: string;
	keys: number;
}

export interface TmuxControlOptions {
	/** tmux target of the terminal's pane, e.g. "=podlab-alice-main:". */
	target: string;
	/**
	 * The tmux command (a `run-shell` of the host script's `pending`) that stores in the session's
	 * option `@podlab-pending` how many bytes wait in the pane's terminal for its program to read.
	 */
	pendingCommand: string;
	/** The terminal's shell-integration nonce, for the markers the host script reports. */
	nonce: string;
	cols: number;
	rows: number;
}

/**
 * A tmux control-mode client at the far end of `pipes` (ssh to a lab host, or an exec in a lab
 * container), seen as the input and output of one pane: bytes in with `send-keys -H`, the pane's
 * bytes out exactly, a size, and backpressure both ways: keys go to tmux at the pace the pane's
 * program reads them ({@link INPUT_WINDOW_KEYS}). The far side is the lab's, so what it
 * sends is bounded ({@link CONTROL_LIMITS}) and its first answer has a deadline: a client that
 * breaks either is ended, and its terminal told why (`exit` with a {@link LabProblem}).
 */
export class TmuxControlClient {
	readonly pid: number;
	readonly #pipes: ControlPipes;
	readonly #options: TmuxControlOptions;
	readonly #events: ProcessEvents;
	readonly #parser: ControlModeParser;
	readonly #queries = new TmuxAnsweredQueries();
	/** Set by the `podlab-cursor` reply of a reattach: the next reply is the screen to replay. */
	#cursor: { x: number; y: number; height: number } | null = null;
	/**
	 * Commands held until tmux answered the first of the attach commands: one that tmux runs before
	 * this client is attached (refresh-client) would act on another client (another terminal).
	 */
	#held: Command[] | null = [];
	#heldBytes = 0;
	readonly #exited: Promise<void>;
	#markAttached!: () => void;
	/** Resolves once tmux answered the first attach command (the client is attached), or the client is gone. */
	readonly attached = new Promise<void>((resolve) => (this.#markAttached = resolve));
	/** Set when the far side broke a bound or a deadline: the client was ended for it. */
	#problem: LabProblem | null = null;
	#failure = '';
	/** Commands waiting to be written, other commands before keys, and how long they are together. */
	#waiting: Command[] = [];
	#typing: Command[] = [];
	#waitingBytes = 0;
	/** Commands written to tmux and not answered yet, in order: true for the one that answers a pending check. */
	#inFlight: boolean[] = [];
	/** Keys written since the pane's program was last seen with nothing left to read. */
	#unconfirmedKeys = 0;
	/** A pending check is in flight, or waits for its timer: no keys go out meanwhile. */
	#checking = false;
	#recheck: NodeJS.Timeout | undefined;
	#rechecks = 0;
	/** Runs while commands are in flight and output is read: their answer is late past `replyMs`. */
	#replyTimer: NodeJS.Timeout | undefined;
	#outputPaused = false;
	readonly #replyMs: number;
	/** write() returned false: the terminal waits for `drain`. */
	#drainWanted = false;
	#stderrBytes = 0;

	constructor(pipes: ControlPipes, options: TmuxControlOptions, events: ProcessEvents, limits: typeof CONTROL_LIMITS = CONTROL_LIMITS) {
		this.pid = pipes.pid;
		this.#pipes = pipes;
		this.#options = options;
		this.#events = events;
		this.#parser = new ControlModeParser(limits);
		this.#replyMs = limits.replyMs;
		pipes.onStdout((chunk) => {
			if (this.#problem) return;
			for (const event of this.#parser.feed(chunk)) this.#onEvent(event);
		});
		// ssh's own complaints ("Connection … closed") and the host script's: the student should see them.
		pipes.onStderr((chunk) => {
			if (this.#problem) return;
			const room = limits.stderrBytes - this.#stderrBytes;
			this.#stderrBytes += chunk.length;
			const shown = chunk.length > room ? chunk.subarray(0, room) : chunk;
			if (shown.length > 0) events.output(Buffer.from(shown.toString('utf8').replace(/\r?\n/g, '\r\n')));
			if (this.#stderrBytes > limits.stderrBytes) this.#fail('LAB_ERR_LAB_OUTPUT', `more than ${limits.stderrBytes} bytes on standard error`);
		});
		pipes.onDrain(() => this.#pump());
		const firstReply = setTimeout(() => this.#fail('LAB_ERR_LAB_TIMEOUT', `no answer from tmux within ${limits.firstReplyMs} ms`), limits.firstReplyMs);
		void this.attached.then(() => clearTimeout(firstReply));
		this.#exited = pipes.closed.then((code) => {
			clearTimeout(this.#recheck);
			clearTimeout(this.#replyTimer);
			this.#markAttached();
			events.exit(code, this.#problem ?? undefined);
		});
	}

	/** Why the client was ended for misbehaving, and what the far side did (for logs); null while it behaves. */
	get failure(): { problem: LabProblem; what: string } | null {
		return this.#problem && { problem: this.#problem, what: this.#failure };
	}

	/** Ends the client for `problem`: the gateway lets go of its pipes at once and reads nothing more. */
	#fail(problem: LabProblem, what: string): void {
		if (this.#problem) return;
		this.#problem = problem;
		this.#failure = what;
		this.#held = null;
		this.#heldBytes = 0;
		this.#waiting = [];
		this.#typing = [];
		this.#waitingBytes = 0;
		clearTimeout(this.#recheck);
		clearTimeout(this.#replyTimer);
		this.#pipes.resumeOutput();
		this.#pipes.kill('SIGKILL');
	}

	/** Resolves once the client process is gone and its last output was delivered. */
	get exited(): Promise<void> {
		return this.#exited;
	}

	/** Types `data` into the pane; false once the client's input queue is over {@link INPUT_QUEUE_BYTES}. */
	write(data: Buffer): boolean {
		const commands = sendKeysCommands(this.#options.target, data);
		commands.forEach((line, index) => this.#enqueue({ line, keys: Math.min(KEYS_PER_COMMAND, data.length - index * KEYS_PER_COMMAND) }));
		const room = this.queuedInputBytes <= INPUT_QUEUE_BYTES;
		if (!room) this.#drainWanted = true;
		return room;
	}

	/** Input not yet handed to tmux, as the commands that carry it (three bytes a key). */
	get queuedInputBytes(): number {
		return this.#heldBytes + this.#waitingBytes + this.#pipes.queuedBytes;
	}

	resize(cols: number, rows: number): void {
		this.command(`refresh-client -C ${cols}x${rows}`);
	}

	/** Stops reading: the client, then tmux's client, then tmux's reading of the pane block in turn. */
	pauseOutput(): void {
		this.#outputPaused = true;
		this.#pipes.pauseOutput();
		this.#watchReplies();
	}

	resumeOutput(): void {
		this.#outputPaused = false;
		this.#pipes.resumeOutput();
		this.#watchReplies();
	}

	/** SIGTERM: tmux detaches the client, the session stays; SIGKILL: lets go of the client's pipes at once. */
	hangUp(signal: 'SIGTERM' | 'SIGKILL'): void {
		this.#pipes.kill(signal);
	}

	/**
	 * Runs a tmux command; its reply is not awaited. At most {@link COMMANDS_IN_FLIGHT} go to tmux
	 * before it has answered them: the rest wait here, so that what a reader typed is taken at the
	 * pace tmux works through it, and what is left when the terminal ends is dropped here rather
	 * than worked through in the lab.
	 */
	command(line: string): void {
		this.#enqueue({ line, keys: 0 });
	}

	#enqueue(command: Command): void {
		if (this.#problem) return;
		if (this.#held) {
			this.#held.push(command);
			this.#heldBytes += command.line.length + 1;
			return;
		}
		(command.keys > 0 ? this.#typing : this.#waiting).push(command);
		this.#waitingBytes += command.line.length + 1;
		this.#pump();
	}

	#pump(): void {
		while (this.#inFlight.length < COMMANDS_IN_FLIGHT) {
			const next = this.#waiting.shift() ?? this.#nextKeys();
			if (!next) break;
			this.#waitingBytes -= next.line.length + 1;
			this.#unconfirmedKeys += next.keys;
			this.#send(next.line);
		}
		if (this.#drainWanted && this.queuedInputBytes <= INPUT_QUEUE_BYTES / 2) {
			this.#drainWanted = false;
			this.#events.drain();
		}
	}

	/** The next keys to type, unless the pane's program is yet to show it reads what it was given. */
	#nextKeys(): Command | undefined {
		if (this.#checking || this.#typing.length === 0) return undefined;
		if (this.#unconfirmedKeys >= INPUT_WINDOW_KEYS) {
			this.#checkPending();
			return undefined;
		}
		return this.#typing.shift();
	}

	#send(line: string, answersCheck = false): void {
		this.#inFlight.push(answersCheck);
		this.#pipes.write(`${line}\n`);
		if (!this.#replyTimer) this.#watchReplies();
	}

	/** (Re)starts the deadline of the oldest command in flight, or stops it when none is or output is paused. */
	#watchReplies(): void {
		clearTimeout(this.#replyTimer);
		this.#replyTimer = undefined;
		if (this.#problem || this.#outputPaused || this.#inFlight.length === 0) return;
		this.#replyTimer = setTimeout(() => this.#fail('LAB_ERR_LAB_TIMEOUT', `no answer from tmux to a command within ${this.#replyMs} ms`), this.#replyMs);
	}

	/** Asks how much input waits in the pane's terminal; the answer is the reply to the last command. */
	#checkPending(): void {
		this.#checking = true;
		const target = this.#options.target;
		this.#send(`set-option -t ${target} @podlab-pending -`);
		this.#send(this.#options.pendingCommand);
		this.#send(`display-message -p -t ${target} 'podlab-pending #{@podlab-pending}'`, true);
	}

	/**
	 * The pane's program read everything: the next window of keys goes. It has not: ask again a little
	 * later. An answer that is not a number (a host script too old to know `pending`, a lab that
	 * broke it) counts as read, as before there was asking; a lab that lies only slows its own input.
	 */
	#onPending(lines: Buffer[]): void {
		const pending = /^podlab-pending (\d+)$/.exec(lines[0]?.toString('latin1') ?? '');
		if (!pending || Number(pending[1]) === 0) {
			this.#checking = false;
			this.#unconfirmedKeys = 0;
			this.#rechecks = 0;
			this.#pump();
			return;
		}
		const delay = PENDING_RECHECK_MS[Math.min(this.#rechecks++, PENDING_RECHECK_MS.length - 1)];
		this.#recheck = setTimeout(() => this.#problem || this.#checkPending(), delay);
	}

	#onEvent(event: ControlEvent): void {
		switch (event.kind) {
			case 'output': {
				const data = this.#queries.filter(event.data);
				if (data.length > 0) this.#events.output(data);
				break;
			}
			case 'reply':
				if (event.own) {
					const answersCheck = this.#inFlight.shift();
					this.#watchReplies();
					if (answersCheck) this.#onPending(event.lines);
					this.#pump();
					if (answersCheck) break;
				}
				this.#onReply(event.lines, event.error);
				break;
			case 'podlab':
				if (event.name === 'busy') this.#events.output(Buffer.from(`\x1b]133;C;nonce=${this.#options.nonce}\x07`));
				break;
			case 'text':
				this.#events.output(Buffer.concat([event.data, Buffer.from('\r\n')]));
				break;
			case 'exit':
				break;
			case 'overflow':
				this.#fail('LAB_ERR_LAB_OUTPUT', event.what);
				break;
		}
	}

	#onReply(lines: Buffer[], error: boolean): void {
		this.#markAttached();
		if (this.#held) {
			const held = this.#held;
			this.#held = null;
			this.#heldBytes = 0;
			for (const command of held) this.#enqueue(command);
		}
		if (this.#cursor) {
			const cursor = this.#cursor;
			this.#cursor = null;
			if (!error) this.#events.output(replayScreen(lines, cursor));
			return;
		}
		const cursor = lines.length === 1 ? /^podlab-cursor (\d+) (\d+) (\d+)$/.exec(lines[0]!.toString('latin1')) : null;
		if (cursor) this.#cursor = { x: Number(cursor[1]), y: Number(cursor[2]), height: Number(cursor[3]) };
	}
}

/** The longest one attach waits for the one before it on the same tmux server. */
const ATTACH_WAIT_MS = 5_000;

/**
 * Control clients attach to a tmux server one at a time. tmux 3.3a (Debian 12's) dereferences a
 * control client's state before that client has finished identifying itself when it tells every
 * control client about an event, such as the session another client has just created: the server
 * segfaults (`dmesg`: "tmux: server[…]: segfault at 20") and every session on it ends. Two terminals
 * of a lab opened at once did that about one time in two. Keyed by server (a lab, a lab host).
 */
export class AttachQueue {
	readonly #last = new Map<string, Promise<void>>();

	/** Runs `start` once the previous client on `server` has attached (at most {@link ATTACH_WAIT_MS} later). */
	async attach(server: string, start: () => Promise<TmuxControlClient>): Promise<TmuxControlClient> {
		const previous = this.#last.get(server) ?? Promise.resolve();
		let release!: () => void;
		const mine = new Promise<void>((resolve) => (release = resolve));
		this.#last.set(server, mine);
		let timer: NodeJS.Timeout | undefined;
		await Promise.race([previous, new Promise<void>((resolve) => (timer = setTimeout(resolve, ATTACH_WAIT_MS)))]);
		clearTimeout(timer);
		try {
			const client = await start();
			const waited = setTimeout(release, ATTACH_WAIT_MS);
			void client.attached.then(() => {
				clearTimeout(waited);
				release();
			});
			return client;
		} catch (error) {
			release();
			throw error;
		} finally {
			void mine.then(() => {
				if (this.#last.get(server) === mine) this.#last.delete(server);
			});
		}
	}
}
