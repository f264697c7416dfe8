/**
 * Output flow control for one terminal: bytes sent to each socket and not yet acknowledged. Above
 * the high watermark for any reader's socket the process's output is paused (its programs block on
 * their writes, as on a slow real terminal); once every reader's socket is back under the low
 * watermark it resumes. A peer that does not hold the output back (in class mode, the instructor
 * watching) never holds the shell back: it is dropped instead when it falls too far behind, and
 * catches up from the scrollback.
 */

/** How far a peer that does not hold the output back may fall behind before it is dropped. */
export const MAX_BEHIND_BYTES = 4 * 1024 * 1024;

/**
 * Largest ack batch: such a peer holds up to one batch unacknowledged even when it keeps up, so the
 * batch stays far below where it is dropped. Larger batches would save nothing worth having:
 * at this size a flood costs one ack per MiB.
 */
export const MAX_ACK_BYTES = MAX_BEHIND_BYTES / 4;

/** How long after a pause ends a reader still counts as slower than its output (see {@link FlowControl.readerBehind}). */
export const BEHIND_FOR_MS = 1000;

export interface Watermarks {
	highWatermarkBytes: number;
	lowWatermarkBytes: number;
}

/** What the flow controller switches. */
export interface OutputValve {
	pause(): void;
	resume(): void;
}

export type AckResult = 'ok' | 'nothing-owed' | 'more-than-owed';

export class FlowControl<Peer> {
	readonly #marks: Watermarks;
	readonly #valve: OutputValve;
	readonly #now: () => number;
	readonly #peers = new Map<Peer, { unacked: number; holdsOutput: boolean }>();
	#paused = false;
	#resumedAt = -Infinity;

	constructor(marks: Watermarks, valve: OutputValve, now: () => number = () => performance.now()) {
		this.#marks = marks;
		this.#valve = valve;
		this.#now = now;
	}

	get paused(): boolean {
		return this.#paused;
	}

	/**
	 * Whether a reader's page is slower than the output: it is holding the output back now, or did
	 * within the last {@link BEHIND_FOR_MS}. A page that keeps up never reaches the high watermark.
	 * Peers that do not hold the output back do not count (the instructor watching: their
	 * thumbnails draw at most every 250 ms whatever the frames, and one too far behind is dropped
	 * and catches up from the scrollback.
	 */
	get readerBehind(): boolean {
		return this.#paused || this.#now() - this.#resumedAt < BEHIND_FOR_MS;
	}

	/**
	 * How many rendered bytes a client gathers before it acks (sent in `ready`): the low watermark,
	 * at most {@link MAX_ACK_BYTES}. At or below the low watermark, never more, by construction: a
	 * client that acks only full batches has less than one batch unacknowledged once it has rendered
	 * everything, so a paused terminal always resumes; and it has a full batch to ack whenever output
	 * is paused (above the high watermark, which config keeps above the low one). So a terminal that
	 * only echoes costs no acks, with no timer on the client (src/terminal/connection/ack-coalescer.ts).
	 */
	get ackBytes(): number {
		return Math.min(this.#marks.lowWatermarkBytes, MAX_ACK_BYTES);
	}

	add(peer: Peer, { holdsOutput }: { holdsOutput: boolean }): void {
		this.#peers.set(peer, { unacked: 0, holdsOutput });
	}

	/** Forgets `peer`; what it owed no longer holds the output back. */
	remove(peer: Peer): void {
		if (this.#peers.delete(peer)) this.#maybeResume();
	}

	/** Bytes `peer` has not acknowledged yet. */
	unacked(peer: Peer): number {
		return this.#peers.get(peer)?.unacked ?? 0;
	}

	/**
	 * Counts `bytes` about to be sent to `peer`. Returns false for a peer that does not hold the output back and is too far behind: drop it
	 * instead of sending.
	 */
	sending(peer: Peer, bytes: number): boolean {
		const state = this.#peers.get(peer);
		if (!state) return false;
		if (!state.holdsOutput && state.unacked > MAX_BEHIND_BYTES) return false;
		state.unacked += bytes;
		if (state.holdsOutput && !this.#paused && state.unacked > this.#marks.highWatermarkBytes) {
			this.#paused = true;
			this.#valve.pause();
		}
		return true;
	}

	/**
	 * `peer` rendered `bytes` more bytes. An ack of nothing, or of more than was sent, is refused
	 * (a client that sends it is broken or hostile, and handling acks is not free).
	 */
	ack(peer: Peer, bytes: number): AckResult {
		const state = this.#peers.get(peer);
		if (!state) return 'ok';
		if (bytes === 0) return 'nothing-owed';
		if (bytes > state.unacked) return 'more-than-owed';
		state.unacked -= bytes;
		this.#maybeResume();
		return 'ok';
	}

	#maybeResume(): void {
		if (!this.#paused) return;
		for (const state of this.#peers.values()) if (state.holdsOutput && state.unacked > this.#marks.lowWatermarkBytes) return;
		this.#paused = false;
		this.#resumedAt = this.#now();
		this.#valve.resume();
	}
}
