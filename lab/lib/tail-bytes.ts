/**
 * What podlab keeps of a command's output when it runs one on a lab's side (an Incus exec, ssh to a
 * lab host): the last bytes, however much the far side writes.
 */

/** The last `limit` bytes of a stream, kept as its chunks: each byte is copied once, however long the stream. */
export class TailBytes {
	readonly #limit: number;
	readonly #chunks: Buffer[] = [];
	#bytes = 0;

	constructor(limit: number) {
		this.#limit = limit;
	}

	push(chunk: Buffer): void {
		this.#chunks.push(chunk);
		this.#bytes += chunk.length;
		while (this.#bytes - this.#chunks[0]!.length >= this.#limit) this.#bytes -= this.#chunks.shift()!.length;
	}

	/** What was kept, as text (a character cut at the start shows as U+FFFD). */
	text(): string {
		const joined = Buffer.concat(this.#chunks, this.#bytes);
		return joined.subarray(Math.max(0, joined.length - this.#limit)).toString('utf8');
	}
}
