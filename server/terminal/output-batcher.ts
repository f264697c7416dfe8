/**
 * Gathers a terminal's output into frames. A key's echo after a quiet spell goes out at once (next
 * event-loop turn); during a flood (each ~4 KiB pty read in its own turn) reads are gathered for a
 * moment into frames of up to {@link MAX_FRAME_BYTES}: ~15 frames per MB instead of ~240, each
 * costing a syscall and a client event.
 */

/** Output frames are at most this large (a flood is cut into frames of this size). */
export const MAX_FRAME_BYTES = 64 * 1024;
/** Output arriving within this long of the previous frame counts as a flood and is gathered… */
const FLOOD_GAP_MS = 2;
/** …for this long at most. */
const FLOOD_DELAY_MS = 2;

export class OutputBatcher {
	readonly #send: (frame: Buffer) => void;
	#chunks: Buffer[] = [];
	#bytes = 0;
	#scheduled = false;
	#timer: NodeJS.Timeout | null = null;
	#lastFlushAt = 0;

	constructor(send: (frame: Buffer) => void) {
		this.#send = send;
	}

	push(chunk: Buffer): void {
		this.#chunks.push(chunk);
		this.#bytes += chunk.length;
		if (this.#bytes >= MAX_FRAME_BYTES) return this.flush();
		if (this.#scheduled) return;
		this.#scheduled = true;
		if (performance.now() - this.#lastFlushAt < FLOOD_GAP_MS) this.#timer = setTimeout(() => this.flush(), FLOOD_DELAY_MS);
		else setImmediate(() => this.flush());
	}

	/** Sends what is gathered now (before a `done`, a replay, the end). */
	flush(): void {
		this.#scheduled = false;
		if (this.#timer) clearTimeout(this.#timer);
		this.#timer = null;
		this.#lastFlushAt = performance.now();
		if (this.#chunks.length === 0) return;
		const frame = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#bytes);
		this.#chunks = [];
		this.#bytes = 0;
		this.#send(frame);
	}
}
