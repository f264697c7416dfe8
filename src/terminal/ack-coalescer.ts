/**
 * Flow control, client half: the gateway pauses a terminal's process while too many of the bytes it
 * sent are unacknowledged. Bytes are acknowledged once xterm has processed them (its `write`
 * callback), so a page that cannot keep up slows the producer down instead of queueing megabytes.
 *
 * One ack per write callback would be one message per output chunk; acks are coalesced instead:
 * sent at once past a threshold, otherwise on the next frame.
 */

/** Runs `callback` soon; returns a function that cancels it. */
export type Scheduler = (callback: () => void) => () => void;

export interface AckCoalescerOptions {
	/**
	 * Send immediately once this many bytes are waiting. Large enough that a flood costs few acks
	 * (the xterm.js flow-control guide suggests ~100 KB), well below the gateway's pause watermark.
	 * @default 131072
	 */
	thresholdBytes?: number;
	/** When to send a smaller batch. @default the next animation frame (a timer while the tab is hidden) */
	schedule?: Scheduler;
}

/**
 * Next animation frame while the page is visible. Browsers stop animation frames in background tabs,
 * which would hold small acks back indefinitely, so a hidden page uses a timer.
 */
export const nextFrame: Scheduler = (callback) => {
	if (typeof requestAnimationFrame === 'function' && typeof document !== 'undefined' && !document.hidden) {
		const id = requestAnimationFrame(callback);
		return () => cancelAnimationFrame(id);
	}
	const id = setTimeout(callback, 50);
	return () => clearTimeout(id);
};

export class AckCoalescer {
	readonly #send: (bytes: number) => void;
	readonly #thresholdBytes: number;
	readonly #schedule: Scheduler;
	#pendingBytes = 0;
	#cancelScheduled: (() => void) | null = null;

	/** @param send sends one `ack {bytes}` */
	constructor(send: (bytes: number) => void, options: AckCoalescerOptions = {}) {
		this.#send = send;
		this.#thresholdBytes = options.thresholdBytes ?? 128 * 1024;
		this.#schedule = options.schedule ?? nextFrame;
	}

	/** Bytes waiting to be acknowledged. */
	get pendingBytes(): number {
		return this.#pendingBytes;
	}

	/** `bytes` more bytes are on screen. */
	rendered(bytes: number): void {
		if (bytes <= 0) return;
		this.#pendingBytes += bytes;
		if (this.#pendingBytes >= this.#thresholdBytes) this.flush();
		else this.#cancelScheduled ??= this.#schedule(() => {
			this.#cancelScheduled = null;
			this.flush();
		});
	}

	/** Sends what is waiting, if anything. */
	flush(): void {
		this.#cancelScheduled?.();
		this.#cancelScheduled = null;
		if (this.#pendingBytes === 0) return;
		const bytes = this.#pendingBytes;
		this.#pendingBytes = 0;
		this.#send(bytes);
	}

	/** Forgets what is waiting: the socket it belongs to is gone, and the gateway forgot it too. */
	discard(): void {
		this.#cancelScheduled?.();
		this.#cancelScheduled = null;
		this.#pendingBytes = 0;
	}
}
