/**
 * A socket's message budget (`PODLAB_MESSAGES_PER_SECOND`): at most `perSecond` messages in each
 * one-second window, a window starting with the first message after the previous one ended. One
 * per socket, counted on the socket's own object: checking it is a comparison and an increment on
 * every keystroke, with no map, timer or promise (a general-purpose limiter cost ~6 µs a key).
 */
export class MessageRate {
	readonly #perSecond: number;
	readonly #now: () => number;
	#windowStart = Number.NEGATIVE_INFINITY;
	#count = 0;

	/** @param now milliseconds on a monotonic clock (tests pass their own) */
	constructor(perSecond: number, now: () => number = () => performance.now()) {
		this.#perSecond = perSecond;
		this.#now = now;
	}

	/** Counts one message; false once the window's budget is spent. */
	take(): boolean {
		const now = this.#now();
		if (now - this.#windowStart >= 1000) {
			this.#windowStart = now;
			this.#count = 0;
		}
		return ++this.#count <= this.#perSecond;
	}
}
