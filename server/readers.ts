/**
 * Readers (browser sessions, or joined students) and their terminals. A local reader is known by a
 * random 128-bit id in an HttpOnly cookie; the id is a bearer secret, so the registry keys such
 * readers by its SHA-256 and never logs it. With a signing key, the cookie also carries an HMAC of
 * the id, so a gateway restarted with the same key knows the reader again (same label: a backend
 * that keeps shells reattaches them) without storing anything per reader. A student is known by the
 * signed cookie class mode checks, under {@link studentKey}.
 *
 * The registry owns readers: everything else sees them read-only and changes them through its
 * methods. What other parts of the gateway want to know (a command finished, a terminal opened or
 * ended) it emits as events, so class-mode bookkeeping and metrics subscribe instead of being wired in.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { DEFAULT_TERMINAL, LabError, type ServerMessage } from '../src/protocol.ts';
import type { LabBackend } from './backends/backend.ts';
import { Terminal, type EndReason, type FinishedCommand } from './terminal/terminal.ts';

/**
 * When the gateway is full, readers with no terminal and no socket for this long make room: they are
 * worth nothing but their cookie (a page that comes back gets a new one), so visits cannot hold
 * PODLAB_MAX_READERS for a whole grace period.
 */
export const UNUSED_READER_MS = 30_000;

export interface ReaderLimits {
	maxReaders: number;
	maxTerminalsPerReader: number;
	graceMs: number;
	scrollbackBytes: number;
	highWatermarkBytes: number;
	lowWatermarkBytes: number;
}

/** A reader as the rest of the gateway sees it. */
export interface Reader {
	/** A short, non-secret label for logs and lab names ("r1a2b3c4", or the student id). */
	readonly label: string;
	/** Class mode: the student id; null for a reader of local mode (and the instructor). */
	readonly student: string | null;
	readonly terminals: ReadonlyMap<string, Terminal>;
	/** Open WebSockets. */
	readonly sockets: number;
	/** The page the reader last had a terminal open on (a site path), for the instructor's roster. */
	readonly page: string | null;
	/** Last keystroke, run or "still here" (epoch ms; class mode's idle limit counts from it). */
	readonly lastActivity: number;
	/** Sends a control message to every socket of every terminal of this reader. */
	notify(message: ServerMessage): void;
}

export interface ReaderEvents {
	/** A command line finished in the terminal named `term`: a Run block, or one the reader typed (block null). */
	run: [reader: Reader, run: FinishedCommand & { term: string }];
	'terminal-opened': [reader: Reader, terminal: Terminal];
	'terminal-ended': [reader: Reader, terminal: Terminal];
}

/** Why the registry ends a reader's terminals. */
export type EndTerminalsReason = Extract<EndReason, 'closed' | 'idle' | 'deadline'>;

/** The registry key of a class-mode student; the one place it is made. */
export function studentKey(student: string): string {
	return `student:${student}`;
}

class ReaderRecord implements Reader {
	readonly label: string;
	readonly student: string | null;
	readonly terminals = new Map<string, Terminal>();
	/** Terminals being started, so two sockets attaching at once get the same one. */
	readonly starting = new Map<string, Promise<Terminal>>();
	sockets = 0;
	page: string | null = null;
	lastActivity = Date.now();
	/** Last sign of life of any kind (a request, a socket closing), for forgetting readers without terminals. */
	lastSeen = Date.now();

	constructor(label: string, student: string | null) {
		this.label = label;
		this.student = student;
	}

	notify(message: ServerMessage): void {
		for (const terminal of this.terminals.values()) terminal.notify(message);
	}

	get idle(): boolean {
		return this.terminals.size === 0 && this.starting.size === 0 && this.sockets === 0;
	}
}

export class ReaderRegistry extends EventEmitter<ReaderEvents> {
	readonly #readers = new Map<string, ReaderRecord>();
	readonly #backend: LabBackend;
	readonly #limits: ReaderLimits;
	readonly #logger: Logger;
	readonly #sweeper: NodeJS.Timeout;
	#terminalCount = 0;
	#closing = false;
	/** Terminal bytes, both ways, since the gateway started (metrics read them). */
	outputBytes = 0;
	inputBytes = 0;

	/** Signs local readers' cookies (the state directory's key); without it, readers end with the gateway. */
	readonly #cookieKey: Buffer | null;

	constructor(backend: LabBackend, limits: ReaderLimits, logger: Logger, cookieKey: Buffer | null = null) {
		super();
		this.#backend = backend;
		this.#limits = limits;
		this.#logger = logger;
		this.#cookieKey = cookieKey;
		this.#sweeper = setInterval(() => this.#forgetIdleReaders(), Math.min(60_000, limits.graceMs)).unref();
	}

	get size(): number {
		return this.#readers.size;
	}

	/** A new local reader and the cookie value that identifies it; null when the gateway is full. */
	issue(): { reader: Reader; id: string } | null {
		const id = randomBytes(16).toString('base64url');
		const reader = this.#admit(id);
		if (!reader) return null;
		this.#logger.info({ reader: reader.label }, 'reader issued');
		return { reader, id: this.#cookieKey ? `${id}.${this.#mac(id)}` : id };
	}

	/**
	 * The local reader whose cookie holds `cookie`. A signed cookie of a reader this gateway has not
	 * seen (it was issued before a restart) brings the reader back, when there is room.
	 */
	find(cookie: string | undefined): Reader | undefined {
		if (!cookie || cookie.length > 96) return undefined;
		const [id, mac] = cookie.split('.', 2) as [string, string | undefined];
		if (this.#cookieKey && !(mac !== undefined && safeEqual(mac, this.#mac(id)))) return undefined;
		const known = this.#readers.get(digest(id));
		if (known || !this.#cookieKey) return this.#seen(known);
		const reader = this.#admit(id);
		if (reader) this.#logger.info({ reader: reader.label }, 'reader back after a restart');
		return reader ?? undefined;
	}

	/** Makes the record of the reader with `id`; null when closing or full. */
	#admit(id: string): ReaderRecord | null {
		if (this.#closing) return null;
		if (this.#readers.size >= this.#limits.maxReaders) this.#forgetIdleReaders(Math.min(UNUSED_READER_MS, this.#limits.graceMs));
		if (this.#readers.size >= this.#limits.maxReaders) return null;
		const reader = new ReaderRecord(`r${digest(id).slice(0, 8)}`, null);
		this.#readers.set(digest(id), reader);
		return reader;
	}

	#mac(id: string): string {
		return createHmac('sha256', this.#cookieKey!).update(`podlab-reader:${id}`).digest('base64url').slice(0, 32);
	}

	/** The student's reader, created when missing: their identity was checked by class mode (a signed cookie). */
	student(student: string): Reader {
		const key = studentKey(student);
		let reader = this.#readers.get(key);
		if (!reader) {
			reader = new ReaderRecord(student, student);
			this.#readers.set(key, reader);
		}
		return this.#seen(reader)!;
	}

	/** Whether the gateway knows a reader (not the instructor) with this label now. */
	hasLabel(label: string): boolean {
		for (const [key, reader] of this.#readers) if (reader.label === label && key !== INSTRUCTOR_KEY) return true;
		return false;
	}

	/** The instructor's reader: it watches students' terminals and has none of its own. */
	instructor(): Reader {
		let reader = this.#readers.get(INSTRUCTOR_KEY);
		if (!reader) {
			reader = new ReaderRecord('instructor', null);
			this.#readers.set(INSTRUCTOR_KEY, reader);
		}
		return reader;
	}

	/** The student's reader, if any, without touching it. */
	peekStudent(student: string): Reader | undefined {
		return this.#readers.get(studentKey(student));
	}

	/** The reader typed, ran a block, or said it is still here. */
	recordActivity(reader: Reader): void {
		this.#record(reader).lastActivity = Date.now();
	}

	/** The page the reader has a terminal open on. */
	/**
	 * An exercise's check finished for `reader`: it counts like a block's run (`run`, block
	 * `exercise:<id>`, exit 0 when solved) — the reader's results, and in class mode the run log, the
	 * roster and the instructor's board.
	 */
	recordCheck(reader: Reader, exercise: string, solved: boolean): void {
		this.emit('run', reader, { block: `exercise:${exercise}`, command: `Check: ${exercise}`, term: 'check', exit: solved ? 0 : 1 });
	}

	recordPage(reader: Reader, page: string): void {
		this.#record(reader).page = page;
	}

	/** A socket of `reader` opened; call the function returned when it closes. */
	socketOpened(reader: Reader): () => void {
		const record = this.#record(reader);
		record.sockets++;
		let open = true;
		return () => {
			if (!open) return;
			open = false;
			record.sockets--;
			record.lastSeen = Date.now();
		};
	}

	/** Ends every terminal of `reader`; returns how many there were. */
	async endTerminals(reader: Reader, reason: EndTerminalsReason = 'closed'): Promise<number> {
		const terminals = [...reader.terminals.values()];
		await Promise.all(terminals.map((terminal) => terminal.end(reason)));
		return terminals.length;
	}

	/** The reader's terminal `name`, started on first use. */
	async openTerminal(reader: Reader, name: string = DEFAULT_TERMINAL, size = { cols: 80, rows: 24 }): Promise<{ terminal: Terminal; created: boolean }> {
		const record = this.#record(reader);
		const existing = record.terminals.get(name);
		if (existing && !existing.ended) return { terminal: existing, created: false };
		const starting = record.starting.get(name);
		if (starting) return { terminal: await starting, created: false };
		if (this.#closing) throw new LabError('LAB_ERR_SHUTDOWN');
		if (record.terminals.size + record.starting.size >= this.#limits.maxTerminalsPerReader) {
			throw new LabError('LAB_ERR_TERMINAL_LIMIT', `You may have ${this.#limits.maxTerminalsPerReader} terminals: close one first.`);
		}
		const id = `${record.label}-${name}-${++this.#terminalCount}`;
		const promise = Terminal.start(
			this.#backend,
			{
				id,
				reader: record.label,
				name,
				scrollbackBytes: this.#limits.scrollbackBytes,
				highWatermarkBytes: this.#limits.highWatermarkBytes,
				lowWatermarkBytes: this.#limits.lowWatermarkBytes,
				graceMs: this.#limits.graceMs,
				logger: this.#logger,
				onEnd: (terminal) => {
					if (record.terminals.get(name) === terminal) record.terminals.delete(name);
					record.lastSeen = Date.now();
					this.emit('terminal-ended', record, terminal);
				},
				onCommand: (command) => this.emit('run', record, { ...command, term: name }),
				onOutputBytes: (bytes) => (this.outputBytes += bytes),
				onInputBytes: (bytes) => (this.inputBytes += bytes),
			},
			size,
		);
		record.starting.set(name, promise);
		try {
			const terminal = await promise;
			record.terminals.set(name, terminal);
			this.#logger.info({ reader: record.label, terminal: id, pid: terminal.pid }, 'terminal started');
			this.emit('terminal-opened', record, terminal);
			return { terminal, created: true };
		} catch (cause) {
			this.#logger.error({ reader: record.label, terminal: id, err: cause }, 'terminal failed to start');
			// A backend's own problem (a lab host unreachable, a full pool) has a code and a sentence for the reader.
			if (cause instanceof LabError) throw cause;
			throw new LabError('LAB_ERR_SPAWN', undefined, { cause });
		} finally {
			record.starting.delete(name);
		}
	}

	/** Every reader (class mode's lifetime checks). */
	all(): Reader[] {
		return [...this.#readers.values()];
	}

	/** Every live terminal (for shutdown, metrics and tests). */
	terminals(): Terminal[] {
		return [...this.#readers.values()].flatMap((reader) => [...reader.terminals.values()]);
	}

	/** Ends every terminal; no new readers or terminals after this. */
	async close(): Promise<void> {
		this.#closing = true;
		clearInterval(this.#sweeper);
		const starting = [...this.#readers.values()].flatMap((reader) => [...reader.starting.values()]);
		await Promise.allSettled(starting);
		await Promise.all(this.terminals().map((terminal) => terminal.end('shutdown')));
	}

	#seen(reader: ReaderRecord | undefined): ReaderRecord | undefined {
		if (reader) reader.lastSeen = Date.now();
		return reader;
	}

	/** The registry's own record of `reader`; readers come from this registry only. */
	#record(reader: Reader): ReaderRecord {
		if (!(reader instanceof ReaderRecord)) throw new Error('readers: not a reader of this registry');
		return reader;
	}

	#forgetIdleReaders(unusedMs = this.#limits.graceMs): void {
		const cutoff = Date.now() - unusedMs;
		for (const [key, reader] of this.#readers) {
			if (reader.idle && reader.lastSeen < cutoff) this.#readers.delete(key);
		}
	}
}

const INSTRUCTOR_KEY = 'instructor';

function safeEqual(a: string, b: string): boolean {
	const left = Buffer.from(a);
	const right = Buffer.from(b);
	return left.length === right.length && timingSafeEqual(left, right);
}

function digest(id: string): string {
	return createHash('sha256').update(id).digest('hex');
}
