/**
 * A watched terminal of a student: a viewer connection (the gateway's `attach {student}`), fed into
 * an xterm.js terminal at the student's own size, so what the instructor sees is what the student's
 * screen holds.
 *
 * Two ways to show it: a thumbnail (the terminal is never opened: xterm only parses, and the screen's
 * text goes into a `<pre>` at most a few times a second — cheap enough for a whole class), or the
 * live view (a real xterm on screen, typing allowed once taken over).
 */
import { Terminal } from '@xterm/xterm';
import { openBrowserSocket } from '../terminal/connection/browser-socket.ts';
import { TerminalConnection } from '../terminal/connection/terminal-connection.ts';
import type { ConnectionStatus } from '../terminal/connection/connection-types.ts';
import { apiUrl, socketUrl } from '../terminal/page/urls.ts';
import { xtermTheme } from '../terminal/view/xterm-theme.ts';

/** A thumbnail replays at most this much of the student's history: enough for a screen, not 2 MiB per student. */
const THUMBNAIL_TAIL_BYTES = 64 * 1024;
/** How often a thumbnail redraws at most while output flows. */
const THUMBNAIL_FRAME_MS = 250;

export interface StudentScreenOptions {
	student: string;
	term: string;
	/** Live view: the terminal shown on screen here. Thumbnail: omitted. */
	container?: HTMLElement;
	/** Thumbnail: where the screen's text goes. */
	thumbnail?: HTMLPreElement;
	onStatus?(status: ConnectionStatus): void;
	/** The student's terminal is taken over (by this page) or given back, as the gateway says. */
	onTakeover?(on: boolean): void;
}

export class StudentScreen {
	readonly #terminal: Terminal;
	readonly #connection: TerminalConnection;
	readonly #options: StudentScreenOptions;
	readonly #encoder = new TextEncoder();
	#drawTimer: ReturnType<typeof setTimeout> | null = null;
	#lastDrawAt = 0;
	#releaseSlot: (() => void) | null = null;
	/** Has the connection been opened yet (a thumbnail waits for its turn)? */
	#started = false;
	#disposed = false;

	constructor(options: StudentScreenOptions) {
		this.#options = options;
		this.#terminal = new Terminal({
			cols: 80,
			rows: 24,
			// A thumbnail needs only the screen; the live view keeps some history to scroll back.
			scrollback: options.container ? 2_000 : 0,
			fontSize: 14,
			// A little air between rows, or the DOM renderer clips underscores in some fonts.
			lineHeight: 1.15,
			fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace',
			// The page draws terminals dark in either theme (as the thumbnails are).
			theme: xtermTheme('dark'),
			// The instructor cannot type until taking over; xterm must not answer queries either.
			disableStdin: true,
			allowProposedApi: false,
		});
		if (options.container) {
			this.#terminal.open(options.container);
			// Taken over, the student's xterm already answers the shell's cursor-position and device
			// queries; a second answer from here would reach the shell as stray text.
			this.#terminal.parser.registerCsiHandler({ final: 'n' }, () => true);
			this.#terminal.parser.registerCsiHandler({ final: 'c' }, () => true);
			this.#terminal.parser.registerCsiHandler({ prefix: '>', final: 'c' }, () => true);
		}
		this.#terminal.onData((data) => this.#connection.input(this.#encoder.encode(data)));
		this.#connection = new TerminalConnection({
			term: options.term,
			url: socketUrl(),
			openSocket: openBrowserSocket,
			probe: async () => (await fetch(apiUrl('health')).catch(() => null))?.ok ?? false,
			attach: { student: options.student, ...(options.container ? {} : { tail: THUMBNAIL_TAIL_BYTES }) },
			listener: {
				status: (status) => {
					if (status.state !== 'connecting') this.#releaseSlot?.();
					options.onStatus?.(status);
				},
				output: (bytes, rendered) =>
					this.#terminal.write(bytes, () => {
						rendered();
						this.#scheduleDraw();
					}),
				attached: ({ newShell }) => {
					if (newShell) this.#terminal.reset();
				},
				size: (cols, rows) => {
					this.#terminal.resize(cols, rows);
					// The thumbnail scales its font to show every column and row (instructor.css).
					options.thumbnail?.style.setProperty('--cols', String(cols));
					options.thumbnail?.style.setProperty('--rows', String(rows));
					this.#scheduleDraw();
				},
				takeover: (on) => options.onTakeover?.(on),
			},
		});
		// Thumbnails open a few at a time: a class's worth of handshakes at once makes Chromium hold
		// each new one back by seconds (measured by bench/instructor-watch.ts).
		if (options.container) this.#connect();
		else
			void openingSlot().then((release) => {
				this.#releaseSlot = () => {
					this.#releaseSlot = null;
					release();
				};
				if (this.#disposed) this.#releaseSlot();
				else this.#connect();
			});
	}

	get status(): ConnectionStatus {
		return this.#connection.status;
	}

	/** Ask the gateway to start or stop typing into the student's terminal (live view only). */
	takeover(on: boolean): void {
		this.allowTyping(on);
		this.#connection.takeover(on);
	}

	/** Whether keys typed here go to the student's shell (the gateway has the last word). */
	allowTyping(on: boolean): void {
		this.#terminal.options.disableStdin = !on;
		if (on) this.#terminal.focus();
	}

	/**
	 * The roster says the terminal is there: watch again if this screen stopped (the terminal ended
	 * and a new shell started), or retry now if it is waiting out a backoff (after a gateway restart).
	 */
	reconnect(): void {
		if (!this.#started) return;
		const { state } = this.#connection.status;
		if (state === 'reconnecting' || state === 'offline') return this.#connection.retryNow();
		if (state !== 'ended' && state !== 'failed' && state !== 'closed') return;
		this.#terminal.reset();
		this.#connection.restart();
	}

	/** The screen's text, top to bottom (tests and the thumbnail). */
	text(): string {
		const buffer = this.#terminal.buffer.active;
		const lines: string[] = [];
		for (let row = 0; row < this.#terminal.rows; row++) lines.push(buffer.getLine(buffer.viewportY + row)?.translateToString(true) ?? '');
		while (lines.length > 0 && lines.at(-1) === '') lines.pop();
		return lines.join('\n');
	}

	dispose(): void {
		this.#disposed = true;
		if (this.#drawTimer) clearTimeout(this.#drawTimer);
		this.#releaseSlot?.();
		// Closing the socket also hands a taken-over terminal back (the gateway does it on close).
		this.#connection.close();
		this.#terminal.dispose();
	}

	#connect(): void {
		this.#started = true;
		this.#connection.connect();
	}

	/** Draws now after a quiet spell, else at most once per {@link THUMBNAIL_FRAME_MS}. */
	#scheduleDraw(): void {
		const pre = this.#options.thumbnail;
		if (!pre || this.#drawTimer || this.#disposed) return;
		const draw = () => {
			this.#drawTimer = null;
			this.#lastDrawAt = performance.now();
			if (!this.#disposed) pre.textContent = this.text();
		};
		const wait = this.#lastDrawAt + THUMBNAIL_FRAME_MS - performance.now();
		if (wait <= 0) draw();
		else this.#drawTimer = setTimeout(draw, wait);
	}
}

/** Thumbnail sockets being opened at once, at most. */
const MAX_OPENING = 8;
let opening = 0;
const waiting: Array<() => void> = [];

/** Waits for a turn to open a thumbnail's socket; call the release once it is open (or given up). */
function openingSlot(): Promise<() => void> {
	const release = () => {
		opening--;
		const next = waiting.shift();
		if (next) next();
	};
	return new Promise((resolve) => {
		const take = () => {
			opening++;
			resolve(release);
		};
		if (opening < MAX_OPENING) take();
		else waiting.push(take);
	});
}
