/**
 * A terminal's recent output: a fixed-size ring of bytes addressed by absolute stream offsets, so a
 * reconnecting client can ask for "everything after byte N" and get exactly that.
 */
export class Scrollback {
	readonly capacity: number;
	readonly #ring: Buffer;
	/** Total bytes ever appended: the offset one past the newest byte. */
	#end = 0;

	constructor(capacity: number) {
		if (!Number.isInteger(capacity) || capacity <= 0) throw new RangeError(`Scrollback capacity must be a positive integer, got ${capacity}`);
		this.capacity = capacity;
		this.#ring = Buffer.allocUnsafe(capacity);
	}

	/** Offset of the oldest byte still held. */
	get start(): number {
		return Math.max(0, this.#end - this.capacity);
	}

	/** Offset one past the newest byte. */
	get end(): number {
		return this.#end;
	}

	append(chunk: Uint8Array): void {
		// Only the last `capacity` bytes of an oversized chunk can survive anyway.
		const kept = chunk.length > this.capacity ? chunk.subarray(chunk.length - this.capacity) : chunk;
		let position = (this.#end + (chunk.length - kept.length)) % this.capacity;
		let remaining = kept;
		while (remaining.length > 0) {
			const room = Math.min(remaining.length, this.capacity - position);
			this.#ring.set(remaining.subarray(0, room), position);
			remaining = remaining.subarray(room);
			position = (position + room) % this.capacity;
		}
		this.#end += chunk.length;
	}

	/**
	 * A copy of the bytes from `since` to the end. When `since` has already fallen out, the copy starts
	 * at {@link start} and `lost` says how many bytes are gone. Callers decide what a `since` beyond
	 * {@link end} means (it belongs to another stream); here it yields nothing.
	 */
	readFrom(since: number): { offset: number; lost: number; data: Buffer } {
		const offset = Math.min(Math.max(since, this.start), this.#end);
		const lost = Math.max(0, this.start - since);
		const length = this.#end - offset;
		const data = Buffer.allocUnsafe(length);
		const first = offset % this.capacity;
		const firstPart = Math.min(length, this.capacity - first);
		this.#ring.copy(data, 0, first, first + firstPart);
		if (firstPart < length) this.#ring.copy(data, firstPart, 0, length - firstPart);
		return { offset, lost, data };
	}
}
