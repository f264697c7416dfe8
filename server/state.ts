/**
 * The gateway's small persistent state (class mode): the cookie signing key, the roster, the run log
 * and the lab-host assignments, as files in one directory only the gateway's user can read.
 *
 * - Writes are atomic and durable: temp file, fsync, rename, fsync of the directory. A crash (even
 *   `kill -9` or a power cut) leaves the old file or the new one, never half of one, and a write that
 *   resolved is on disk — so the gateway answers a request that changed state only after that.
 * - A file that exists but cannot be understood stops startup with its path and what to do
 *   ({@link StateFileError}); it is never replaced silently, since that would forget seats or void
 *   every cookie.
 * - A write that fails (a full disk) is reported and retried by its owner ({@link WriteRetry}); the
 *   class keeps running on what is in memory.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Length of the cookie signing key, bytes (HMAC-SHA256). */
export const KEY_BYTES = 32;

/** A state file that exists but is not what podlab wrote: startup stops with this message. */
export class StateFileError extends Error {
	readonly path: string;

	constructor(path: string, problem: string, whatToDo: string, options?: ErrorOptions) {
		super(`${path}: ${problem}; ${whatToDo}`, options);
		this.name = 'StateFileError';
		this.path = path;
	}
}

/** Who hears about state writes that fail and recover (the gateway logs them and counts them in /metrics). */
export interface StateReporter {
	writeFailed(path: string, error: Error, retryInMs: number): void;
	writeRecovered(path: string): void;
}

export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): Promise<void> {
	const directory = dirname(path);
	await mkdir(directory, { recursive: true, mode: 0o700 });
	const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
	try {
		const handle = await open(temporary, 'w', mode);
		try {
			await handle.writeFile(data);
			await handle.sync();
		} finally {
			await handle.close();
		}
		await rename(temporary, path);
	} catch (error) {
		// A full disk must not also fill up with half-written temp files.
		await unlink(temporary).catch(() => {});
		throw error;
	}
	await syncDirectory(directory);
}

/** Makes a rename or a new file in `directory` durable (the file's own fsync does not cover its name). */
export async function syncDirectory(directory: string): Promise<void> {
	const handle = await open(directory, 'r');
	try {
		await handle.sync();
	} finally {
		await handle.close();
	}
}

/** The file's text, or null when it does not exist. @throws {StateFileError} when it cannot be read. */
export async function readStateFile(path: string): Promise<string | null> {
	try {
		return await readFile(path, 'utf8');
	} catch (cause) {
		if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return null;
		throw new StateFileError(path, `unreadable (${(cause as Error).message})`, 'check PODLAB_STATE_DIR and its permissions', { cause });
	}
}

/** Parses a state file's JSON. @throws {StateFileError} naming the file and `whatToDo`. */
export function parseStateJson(path: string, text: string, whatToDo: string): unknown {
	try {
		return JSON.parse(text);
	} catch (cause) {
		throw new StateFileError(path, `not valid JSON (${(cause as Error).message}): it was damaged`, whatToDo, { cause });
	}
}

/**
 * The key that signs session cookies, created on first use; reused so cookies outlive restarts.
 * @throws {StateFileError} when the file exists but is not a key (never replaced: every cookie would stop working).
 */
export async function loadOrCreateKey(stateDir: string): Promise<Buffer> {
	const path = join(stateDir, 'session.key');
	const existing = await readFile(path).catch((error: NodeJS.ErrnoException) => {
		if (error.code === 'ENOENT') return null;
		throw new StateFileError(path, `unreadable (${error.message})`, 'check PODLAB_STATE_DIR and its permissions', { cause: error });
	});
	if (existing) {
		if (existing.length === KEY_BYTES) return existing;
		throw new StateFileError(
			path,
			`${existing.length} bytes long, not a ${KEY_BYTES}-byte podlab key: it was damaged`,
			'restore it from a backup; or, to start the class afresh, delete it together with roster.json in the same directory (every student cookie then stops working and students join again)',
		);
	}
	const key = randomBytes(KEY_BYTES);
	await writeFileAtomic(path, key);
	return key;
}

/**
 * Retries a failed background write with a growing delay (1 s up to 30 s), reporting each failure and
 * the recovery, so a full disk is an error in the log and a metric, not a crash.
 */
export class WriteRetry {
	readonly #path: string;
	readonly #reporter: StateReporter | undefined;
	readonly #write: () => Promise<void>;
	#failures = 0;
	#timer: NodeJS.Timeout | null = null;

	/** `write` writes the current state; it is called again after each failure until it succeeds. */
	constructor(path: string, reporter: StateReporter | undefined, write: () => Promise<void>) {
		this.#path = path;
		this.#reporter = reporter;
		this.#write = write;
	}

	/** Whether the last write failed (and a retry is pending). */
	get failing(): boolean {
		return this.#failures > 0;
	}

	succeeded(): void {
		if (this.#failures === 0) return;
		this.#failures = 0;
		this.#reporter?.writeRecovered(this.#path);
	}

	failed(error: Error): void {
		const retryInMs = Math.min(30_000, 1000 * 2 ** this.#failures);
		this.#failures++;
		this.#reporter?.writeFailed(this.#path, error, retryInMs);
		if (this.#timer) return;
		this.#timer = setTimeout(() => {
			this.#timer = null;
			// The write reports its own outcome through succeeded()/failed().
			this.#write().catch(() => {});
		}, retryInMs);
		this.#timer.unref();
	}

	/** Stops retrying (shutdown). */
	stop(): void {
		if (this.#timer) clearTimeout(this.#timer);
		this.#timer = null;
	}
}
