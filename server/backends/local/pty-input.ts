/**
 * Keyboard input into a node-pty terminal, bounded. node-pty's own `write` keeps an unbounded queue,
 * retries a full pty on every event-loop turn, and its retries go to the descriptor *number*, which
 * after the pty closed may already be another file (a cgroup control file, say). Writing through
 * the stream node-pty reads with is no better: libuv treats a pty master as a blocking-write stream
 * and spins on a full one.
 *
 * So input is written here, synchronously (the master is non-blocking: a full pty answers EAGAIN at
 * once), and only while node-pty's stream over the master still has its handle: the descriptor is
 * closed on this thread, together with the handle, so the check and the write cannot be split by a
 * close. A full pty is tried again after a short, growing delay, not in a loop.
 */
import { writeSync } from 'node:fs';
import type { IPty } from 'node-pty';
import { INPUT_QUEUE_BYTES } from '../backend.ts';

/** Delays between tries at a pty that takes no more input (a program that does not read). */
const RETRY_FIRST_MS = 2;
const RETRY_MAX_MS = 100;

export class PtyInput {
	readonly #fd: number;
	readonly #stream: { _handle?: unknown; destroyed?: boolean };
	readonly #onDrain: () => void;
	#queue: Buffer[] = [];
	#queuedBytes = 0;
	#retryMs = RETRY_FIRST_MS;
	#retryTimer: NodeJS.Timeout | null = null;
	/** A write returned false: the caller waits for `onDrain`. */
	#full = false;
	#closed = false;

	constructor(pty: IPty, onDrain: () => void) {
		const master = pty as unknown as { fd?: number; _socket?: { _handle?: unknown; destroyed?: boolean } };
		if (typeof master.fd !== 'number' || !master._socket) {
			throw new Error('local backend: this node-pty does not expose its master (`fd`, `_socket`); pin node-pty 1.1');
		}
		this.#fd = master.fd;
		this.#stream = master._socket;
		this.#onDrain = onDrain;
	}

	get queuedBytes(): number {
		return this.#queuedBytes;
	}

	/** Queues `data`; false once more than {@link INPUT_QUEUE_BYTES} wait. Ignored once closed. */
	write(data: Buffer): boolean {
		if (this.#closed || data.length === 0) return true;
		this.#queue.push(data);
		this.#queuedBytes += data.length;
		if (!this.#retryTimer) this.#flush();
		this.#full = this.#queuedBytes > INPUT_QUEUE_BYTES;
		return !this.#full;
	}

	/** Drops what is queued; nothing is written after this. */
	close(): void {
		this.#closed = true;
		this.#queue = [];
		this.#queuedBytes = 0;
		if (this.#retryTimer) clearTimeout(this.#retryTimer);
		this.#retryTimer = null;
	}

	#flush(): void {
		this.#retryTimer = null;
		while (this.#queue.length > 0) {
			if (this.#stream.destroyed || !this.#stream._handle) return this.close();
			const head = this.#queue[0]!;
			let written: number;
			try {
				written = writeSync(this.#fd, head);
			} catch (error) {
				if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return this.close();
				this.#retryTimer = setTimeout(() => this.#flush(), this.#retryMs);
				this.#retryMs = Math.min(RETRY_MAX_MS, this.#retryMs * 2);
				return;
			}
			this.#retryMs = RETRY_FIRST_MS;
			this.#queuedBytes -= written;
			if (written === head.length) this.#queue.shift();
			else this.#queue[0] = head.subarray(written);
		}
		if (this.#full) {
			this.#full = false;
			this.#onDrain();
		}
	}
}
