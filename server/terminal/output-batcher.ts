/**
 * Gathers a terminal's output into frames. During a flood the pty gives ~4 KiB per event-loop turn.
 * By default each read goes out on the next turn, so that the page renders it, acks it and the
 * writer gets its next turn as soon as they can. When gathering pays (`shouldGather`, asked once per
 * frame and only during a flood), reads are held for up to 2 ms into frames of up to
 * {@link MAX_FRAME_BYTES}: ~15 frames per MB instead of ~250, each a send for the gateway and a
 * message for the page. What pays is decided by the terminal (terminal.ts): a gateway with no CPU to
 * spare, or a page that cannot keep up. docs/performance.md has the measurements.
 */

/** Output frames are at most this large (a flood is cut into frames of this size). */
export const MAX_FRAME_BYTES = 64 * 1024;
/** Output arriving within this long of the previous frame counts as a flood… */
const FLOOD_GAP_MS = 2;
/** …and while gathering pays, is gathered for this long at most. */
const GATHER_MS = 2;

export class OutputBatcher {
	readonly #send: (frame: Buffer) => void;
	readonly #shouldGather: () => boolean;
	#chunks: Buffer[] = [];
	#bytes = 0;
	#scheduled = false;
	#timer: NodeJS.Timeout | null = null;
	#lastFlushAt = 0;

	/**
	 * @param send sends one frame
	 * @param shouldGather whether a flood's reads are worth gathering now; a lone echo after a quiet
	 *   spell always goes out on the next turn
	 */
	constructor(send: (frame: Buffer) => void, shouldGather: () => boolean) {
		this.#send = send;
		this.#shouldGather = shouldGather;
	}

	push(chunk: Buffer): void {
		this.#chunks.push(chunk);
		this.#bytes += chunk.length;
		if (this.#bytes >= MAX_FRAME_BYTES) return this.flush();
		if (this.#scheduled) return;
		// Decided before anything is scheduled: the batcher's state stays whole whatever the decision does.
		const gather = performance.now() - this.#lastFlushAt < FLOOD_GAP_MS && this.#shouldGather();
		this.#scheduled = true;
		if (gather) this.#timer = setTimeout(() => this.flush(), GATHER_MS);
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
