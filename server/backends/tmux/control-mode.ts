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
import type { LabProblem, ProcessEvents } from '../backend.ts';
import { TmuxAnsweredQueries } from './answered-queries.ts';
import { CommandQueue } from './command-queue.ts';
import { CONTROL_LIMITS } from './control-limits.ts';
import { type ControlEvent, ControlModeParser } from './control-mode-parser.ts';
import type { ControlPipes } from './control-pipes.ts';
import { ScreenReplay } from './screen-replay.ts';

// The backends take the client and the queue they start clients through from this one module.
export { AttachQueue } from './attach-queue.ts';

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
 * program reads them ({@link CommandQueue}). The far side is the lab's, so what it
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
	readonly #replay = new ScreenReplay();
	readonly #commands: CommandQueue;
	readonly #exited: Promise<void>;
	#markAttached!: () => void;
	/** Resolves once tmux answered the first attach command (the client is attached), or the client is gone. */
	readonly attached = new Promise<void>((resolve) => (this.#markAttached = resolve));
	/** Set when the far side broke a bound or a deadline: the client was ended for it. */
	#problem: LabProblem | null = null;
	#failure = '';
	#stderrBytes = 0;

	constructor(pipes: ControlPipes, options: TmuxControlOptions, events: ProcessEvents, limits: typeof CONTROL_LIMITS = CONTROL_LIMITS) {
		this.pid = pipes.pid;
		this.#pipes = pipes;
		this.#options = options;
		this.#events = events;
		this.#parser = new ControlModeParser(limits);
		this.#commands = new CommandQueue({
			target: options.target,
			pendingCommand: options.pendingCommand,
			pipes,
			replyMs: limits.replyMs,
			onDrain: () => events.drain(),
			onLate: (what) => this.#fail('LAB_ERR_LAB_TIMEOUT', what),
		});
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
		pipes.onDrain(() => this.#commands.drained());
		const firstReply = setTimeout(() => this.#fail('LAB_ERR_LAB_TIMEOUT', `no answer from tmux within ${limits.firstReplyMs} ms`), limits.firstReplyMs);
		void this.attached.then(() => clearTimeout(firstReply));
		this.#exited = pipes.closed.then((code) => {
			this.#commands.stopTimers();
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
		this.#commands.close();
		this.#pipes.resumeOutput();
		this.#pipes.kill('SIGKILL');
	}

	/** Resolves once the client process is gone and its last output was delivered. */
	get exited(): Promise<void> {
		return this.#exited;
	}

	/** Types `data` into the pane; false once the client's input queue is over `INPUT_QUEUE_BYTES`. */
	write(data: Buffer): boolean {
		return this.#commands.write(data);
	}

	/** Input not yet handed to tmux, as the commands that carry it (three bytes a key). */
	get queuedInputBytes(): number {
		return this.#commands.queuedInputBytes;
	}

	resize(cols: number, rows: number): void {
		this.command(`refresh-client -C ${cols}x${rows}`);
	}

	/** Stops reading: the client, then tmux's client, then tmux's reading of the pane block in turn. */
	pauseOutput(): void {
		this.#pipes.pauseOutput();
		this.#commands.pauseDeadlines();
	}

	resumeOutput(): void {
		this.#pipes.resumeOutput();
		this.#commands.resumeDeadlines();
	}

	/** SIGTERM: tmux detaches the client, the session stays; SIGKILL: lets go of the client's pipes at once. */
	hangUp(signal: 'SIGTERM' | 'SIGKILL'): void {
		this.#pipes.kill(signal);
	}

	/**
	 * Runs a tmux command; its reply is not awaited. Only a few go to tmux before it has answered
	 * them ({@link CommandQueue}): the rest wait at the gateway, so that what a reader typed is taken
	 * at the pace tmux works through it, and what is left when the terminal ends is dropped there
	 * rather than worked through in the lab.
	 */
	command(line: string): void {
		this.#commands.command(line);
	}

	#onEvent(event: ControlEvent): void {
		switch (event.kind) {
			case 'output': {
				const data = this.#queries.filter(event.data);
				if (data.length > 0) this.#events.output(data);
				break;
			}
			case 'reply':
				// The answer to a pending check is the command queue's alone.
				if (event.own && this.#commands.answered(event.lines)) break;
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
		this.#commands.release();
		const screen = this.#replay.reply(lines, error);
		if (screen) this.#events.output(screen);
	}
}
