/**
 * The commands a tmux control-mode client sends, on their way to tmux: held until the client is
 * attached, then other commands before keys, a few at a time ahead of tmux's answers, each answer
 * with a deadline, and keys at the pace the pane's program reads them.
 */
import { INPUT_QUEUE_BYTES } from '../backend.ts';
import type { ControlPipes } from './control-pipes.ts';

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

/** A tmux command line and the keys it types into the pane (`send-keys`), 0 for any other command. */
interface Command {
	line: string;
	keys: number;
}

export interface CommandQueueOptions {
	/** tmux target of the terminal's pane, e.g. "=podlab-alice-main:". */
	target: string;
	/**
	 * The tmux command (a `run-shell` of the host script's `pending`) that stores in the session's
	 * option `@podlab-pending` how many bytes wait in the pane's terminal for its program to read.
	 */
	pendingCommand: string;
	/** The client's stdin, which the command lines are written to. */
	pipes: Pick<ControlPipes, 'write' | 'queuedBytes'>;
	/** How long tmux may take to answer a command, counted while its answers are read. */
	replyMs: number;
	/** Input that made {@link CommandQueue.write} return false has been taken: more may follow. */
	onDrain(): void;
	/** tmux did not answer a command within `replyMs`: `what` says so, for the logs. */
	onLate(what: string): void;
}

/**
 * At most {@link COMMANDS_IN_FLIGHT} commands go to tmux before it has answered them: the rest wait
 * here, so that what a reader typed is taken at the pace tmux works through it, and what is left when
 * the terminal ends is dropped here rather than worked through in the lab. Keys go
 * {@link INPUT_WINDOW_KEYS} at a time, each window once the pane's program has read the one before.
 */
export class CommandQueue {
	readonly #options: CommandQueueOptions;
	/**
	 * Commands held until tmux answered the first of the attach commands: one that tmux runs before
	 * this client is attached (refresh-client) would act on another client (another terminal).
	 */
	#held: Command[] | null = [];
	#heldBytes = 0;
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
	/** write() returned false: the terminal waits for `onDrain`. */
	#drainWanted = false;
	/** The client was ended: nothing more is queued or sent. */
	#closed = false;

	constructor(options: CommandQueueOptions) {
		this.#options = options;
	}

	/** Types `data` into the pane; false once the client's input queue is over {@link INPUT_QUEUE_BYTES}. */
	write(data: Buffer): boolean {
		const commands = sendKeysCommands(this.#options.target, data);
		commands.forEach((line, index) => this.#enqueue({ line, keys: Math.min(KEYS_PER_COMMAND, data.length - index * KEYS_PER_COMMAND) }));
		const room = this.queuedInputBytes <= INPUT_QUEUE_BYTES;
		if (!room) this.#drainWanted = true;
		return room;
	}

	/** Runs a tmux command; its reply is not awaited. */
	command(line: string): void {
		this.#enqueue({ line, keys: 0 });
	}

	/** Input not yet handed to tmux, as the commands that carry it (three bytes a key). */
	get queuedInputBytes(): number {
		return this.#heldBytes + this.#waitingBytes + this.#options.pipes.queuedBytes;
	}

	/** tmux answered the first attach command: the client is attached, and what was held may go. */
	release(): void {
		if (!this.#held) return;
		const held = this.#held;
		this.#held = null;
		this.#heldBytes = 0;
		for (const command of held) this.#enqueue(command);
	}

	/**
	 * tmux answered the oldest command this client sent. True when that was a pending check: its
	 * answer is the queue's, not a reply for anyone else.
	 */
	answered(lines: Buffer[]): boolean {
		const answersCheck = this.#inFlight.shift() === true;
		this.#watchReplies();
		if (answersCheck) this.#onPending(lines);
		this.#pump();
		return answersCheck;
	}

	/** The client's stdin took what it had: more commands may go. */
	drained(): void {
		this.#pump();
	}

	/** The client's output is not read: tmux's answers cannot arrive, so no deadline runs. */
	pauseDeadlines(): void {
		this.#outputPaused = true;
		this.#watchReplies();
	}

	resumeDeadlines(): void {
		this.#outputPaused = false;
		this.#watchReplies();
	}

	/** The client is gone: no timer of the queue's runs on. */
	stopTimers(): void {
		clearTimeout(this.#recheck);
		clearTimeout(this.#replyTimer);
	}

	/** The client was ended for misbehaving: what waits is dropped, and nothing more is queued. */
	close(): void {
		this.#closed = true;
		this.#held = null;
		this.#heldBytes = 0;
		this.#waiting = [];
		this.#typing = [];
		this.#waitingBytes = 0;
		this.stopTimers();
	}

	#enqueue(command: Command): void {
		if (this.#closed) return;
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
			this.#options.onDrain();
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
		this.#options.pipes.write(`${line}\n`);
		if (!this.#replyTimer) this.#watchReplies();
	}

	/** (Re)starts the deadline of the oldest command in flight, or stops it when none is or output is paused. */
	#watchReplies(): void {
		clearTimeout(this.#replyTimer);
		this.#replyTimer = undefined;
		if (this.#closed || this.#outputPaused || this.#inFlight.length === 0) return;
		const { replyMs, onLate } = this.#options;
		this.#replyTimer = setTimeout(() => onLate(`no answer from tmux to a command within ${replyMs} ms`), replyMs);
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
		this.#recheck = setTimeout(() => this.#closed || this.#checkPending(), delay);
	}
}
