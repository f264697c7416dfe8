/**
 * Readers (browser sessions) and their terminals. A reader is known by a random 128-bit id in an
 * HttpOnly cookie; the id is a bearer secret, so the registry keys readers by its SHA-256 and never logs it.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { DEFAULT_TERMINAL, LabError, type ServerMessage } from '../src/protocol.ts';
import type { LabBackend } from './backends/backend.ts';
import { LabHostError } from './backends/ssh/errors.ts';
import { PoolFullError } from './backends/ssh/host-assignments.ts';
import { Terminal, type FinishedCommand } from './terminal/terminal.ts';

export interface ReaderLimits {
	maxReaders: number;
	maxTerminalsPerReader: number;
	graceMs: number;
	scrollbackBytes: number;
	highWatermarkBytes: number;
	lowWatermarkBytes: number;
}

/** What the gateway wants to hear about its terminals (the roster's last run, transcripts, metrics). */
export interface ReaderHooks {
	/** A command line finished in the terminal named `term`: a Run block, or one the reader typed (block null). */
	onRun?(reader: Reader, run: FinishedCommand & { term: string }): void;
	onOutputBytes?(bytes: number): void;
	onInputBytes?(bytes: number): void;
}

export class Reader {
	/** A short, non-secret label for logs and cgroup names. */
	readonly label: string;
	readonly terminals = new Map<string, Terminal>();
	/** Terminals being spawned, so two sockets attaching at once get the same one. */
	readonly starting = new Map<string, Promise<Terminal>>();
	/** Open WebSockets, capped so one reader cannot exhaust the gateway's file descriptors. */
	sockets = 0;
	lastSeen = Date.now();
	/** The page the reader last had a terminal open on (a site path), for the instructor's roster. */
	page: string | null = null;
	/** Last keystroke, run or "still here" (class mode's idle limit counts from it). */
	lastActivity = Date.now();
	/** The idle deadline the reader was last warned about, so each is announced once. */
	warnedIdleAt = 0;
	warnedDeadline = false;

	/** Sends a control message to every socket of every terminal of this reader. */
	notify(message: ServerMessage): void {
		for (const terminal of this.terminals.values()) terminal.notify(message);
	}

	constructor(label: string) {
		this.label = label;
	}
}

export class ReaderRegistry {
	readonly #readers = new Map<string, Reader>();
	readonly #backend: LabBackend;
	readonly #limits: ReaderLimits;
	readonly #logger: Logger;
	readonly #sweeper: NodeJS.Timeout;
	#terminalCount = 0;
	#closing = false;

	readonly #hooks: ReaderHooks;

	constructor(backend: LabBackend, limits: ReaderLimits, logger: Logger, hooks: ReaderHooks = {}) {
		this.#backend = backend;
		this.#limits = limits;
		this.#logger = logger;
		this.#hooks = hooks;
		this.#sweeper = setInterval(() => this.#forgetIdleReaders(), Math.min(60_000, limits.graceMs)).unref();
	}

	get size(): number {
		return this.#readers.size;
	}

	/** A new reader and the cookie value that identifies it; null when the gateway is full. */
	issue(): { reader: Reader; id: string } | null {
		if (this.#closing) return null;
		if (this.#readers.size >= this.#limits.maxReaders) this.#forgetIdleReaders();
		if (this.#readers.size >= this.#limits.maxReaders) return null;
		const id = randomBytes(16).toString('base64url');
		const reader = new Reader(`r${digest(id).slice(0, 8)}`);
		this.#readers.set(digest(id), reader);
		this.#logger.info({ reader: reader.label }, 'reader issued');
		return { reader, id };
	}

	find(id: string | undefined): Reader | undefined {
		if (!id || id.length > 64) return undefined;
		const reader = this.#readers.get(digest(id));
		if (reader) reader.lastSeen = Date.now();
		return reader;
	}

	/**
	 * The reader under `key`, created when missing. For identities checked elsewhere (a signed
	 * student cookie): the key is not secret, so it is used as is.
	 */
	ensure(key: string, label: string): Reader {
		let reader = this.#readers.get(key);
		if (!reader) {
			reader = new Reader(label);
			this.#readers.set(key, reader);
		}
		reader.lastSeen = Date.now();
		return reader;
	}

	/** The reader under `key`, if any, without touching it. */
	peek(key: string): Reader | undefined {
		return this.#readers.get(key);
	}

	/** Ends every terminal of the reader under `key`; returns how many there were. */
	async endReader(key: string, reason: 'closed' | 'idle' | 'deadline' = 'closed'): Promise<number> {
		const reader = this.#readers.get(key);
		return reader ? endTerminals(reader, reason) : 0;
	}

	/** The reader's terminal `name`, started on first use. */
	async openTerminal(reader: Reader, name: string = DEFAULT_TERMINAL, size = { cols: 80, rows: 24 }): Promise<{ terminal: Terminal; created: boolean }> {
		const existing = reader.terminals.get(name);
		if (existing && !existing.ended) return { terminal: existing, created: false };
		const starting = reader.starting.get(name);
		if (starting) return { terminal: await starting, created: false };
		if (this.#closing) throw new LabError('LAB_ERR_SHUTDOWN');
		if (reader.terminals.size + reader.starting.size >= this.#limits.maxTerminalsPerReader) {
			throw new LabError('LAB_ERR_TERMINAL_LIMIT', `You may have ${this.#limits.maxTerminalsPerReader} terminals: close one first.`);
		}
		const id = `${reader.label}-${name}-${++this.#terminalCount}`;
		const promise = Terminal.start(
			this.#backend,
			{
				id,
				reader: reader.label,
				name,
				scrollbackBytes: this.#limits.scrollbackBytes,
				highWatermarkBytes: this.#limits.highWatermarkBytes,
				lowWatermarkBytes: this.#limits.lowWatermarkBytes,
				graceMs: this.#limits.graceMs,
				logger: this.#logger,
				onEnd: (terminal) => {
					if (reader.terminals.get(name) === terminal) reader.terminals.delete(name);
					reader.lastSeen = Date.now();
				},
				onCommand: (command) => this.#hooks.onRun?.(reader, { ...command, term: name }),
				onOutputBytes: this.#hooks.onOutputBytes,
				onInputBytes: this.#hooks.onInputBytes,
			},
			size,
		);
		reader.starting.set(name, promise);
		try {
			const terminal = await promise;
			reader.terminals.set(name, terminal);
			this.#logger.info({ reader: reader.label, terminal: id, pid: terminal.pid }, 'terminal started');
			return { terminal, created: true };
		} catch (cause) {
			this.#logger.error({ reader: reader.label, terminal: id, err: cause }, 'terminal failed to start');
			// A lab host's own problem (unreachable, wrong key, pool full) has a code and a sentence for the student.
			if (cause instanceof LabHostError || cause instanceof PoolFullError) throw new LabError(cause.code, cause.message, { cause });
			throw new LabError('LAB_ERR_SPAWN', undefined, { cause });
		} finally {
			reader.starting.delete(name);
		}
	}

	/** Every reader (class mode's lifetime checks). */
	all(): Reader[] {
		return [...this.#readers.values()];
	}

	/** Every live terminal (for shutdown and tests). */
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

	#forgetIdleReaders(): void {
		const cutoff = Date.now() - this.#limits.graceMs;
		for (const [key, reader] of this.#readers) {
			if (reader.terminals.size === 0 && reader.starting.size === 0 && reader.sockets === 0 && reader.lastSeen < cutoff) this.#readers.delete(key);
		}
	}
}

function digest(id: string): string {
	return createHash('sha256').update(id).digest('hex');
}

/** Ends every terminal of `reader`; returns how many there were. */
export async function endTerminals(reader: Reader, reason: 'closed' | 'idle' | 'deadline'): Promise<number> {
	const terminals = [...reader.terminals.values()];
	await Promise.all(terminals.map((terminal) => terminal.end(reason)));
	return terminals.length;
}
