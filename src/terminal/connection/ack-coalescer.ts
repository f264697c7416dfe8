/**
 * Flow control, client half: the gateway pauses a terminal's process while too many of the bytes it
 * sent to a socket are unacknowledged (above its high watermark) and resumes it once every reader's
 * socket is back at or below its low watermark (server/terminal/flow-control.ts). Bytes are
 * acknowledged once xterm has processed them (its `write` callback), so a page that cannot keep up
 * slows the producer down instead of queueing megabytes.
 *
 * The gateway says in `ready` how many rendered bytes to gather per ack (`ackBytes`, at most its low
 * watermark, which is below its high one), and the client acks only when that many are waiting. No
 * timer is needed, and none is used:
 * - a paused terminal always resumes: once the client has rendered everything, what it has not
 *   acknowledged is less than `ackBytes` ≤ low watermark;
 * - the gateway pauses only above the high watermark > `ackBytes`, so a paused client always has at
 *   least `ackBytes` to render and ack.
 * A terminal that only echoes (typing, a prompt) therefore costs no acks at all until its output adds
 * up to `ackBytes`, and a flood costs one ack per `ackBytes`.
 */

/** Runs `callback` soon; returns a function that cancels it. */
export type Scheduler = (callback: () => void) => () => void;

export interface AckCoalescerOptions {
	/** Ack once this many rendered bytes are waiting: the gateway's `ready.ackBytes`. */
	batchBytes: number;
	/**
	 * When to ack a remainder smaller than `batchBytes`. Leave it out with the gateway's `ackBytes`:
	 * the remainder then waits for more output, which is safe by the invariant above. A batch larger
	 * than the low watermark needs it, or a paused terminal could wait forever (the xterm.js guide's
	 * one ack per 100,000 bytes, which the benchmarks compare against, does).
	 */
	remainder?: Scheduler;
}

export class AckCoalescer {
	readonly #send: (bytes: number) => void;
	readonly #batchBytes: number;
	readonly #remainder: Scheduler | undefined;
	#pendingBytes = 0;
	#cancelScheduled: (() => void) | null = null;

	/** @param send sends one `ack {bytes}` */
	constructor(send: (bytes: number) => void, options: AckCoalescerOptions) {
		if (!Number.isSafeInteger(options.batchBytes) || options.batchBytes < 1) {
			throw new RangeError(`AckCoalescer: batchBytes must be a positive integer, not ${options.batchBytes}`);
		}
		this.#send = send;
		this.#batchBytes = options.batchBytes;
		this.#remainder = options.remainder;
	}

	/** Bytes rendered and not acknowledged yet. */
	get pendingBytes(): number {
		return this.#pendingBytes;
	}

	/** `bytes` more bytes are on screen. */
	rendered(bytes: number): void {
		if (bytes <= 0) return;
		this.#pendingBytes += bytes;
		if (this.#pendingBytes >= this.#batchBytes) this.#flush();
		else if (this.#remainder) this.#cancelScheduled ??= this.#remainder(() => {
			this.#cancelScheduled = null;
			this.#flush();
		});
	}

	/** Forgets what is waiting: the socket it belongs to is gone, and the gateway forgot it too. */
	discard(): void {
		this.#cancelScheduled?.();
		this.#cancelScheduled = null;
		this.#pendingBytes = 0;
	}

	#flush(): void {
		this.#cancelScheduled?.();
		this.#cancelScheduled = null;
		if (this.#pendingBytes === 0) return;
		const bytes = this.#pendingBytes;
		this.#pendingBytes = 0;
		this.#send(bytes);
	}
}
