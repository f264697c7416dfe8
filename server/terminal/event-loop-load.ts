/**
 * Whether the gateway's event loop is saturated: busy (running callbacks, not waiting for I/O) for
 * nearly all of the last window. The output batcher gathers a flood into large frames only then
 * (output-batcher.ts): with the CPU to spare, sending each read at once is faster; without it, fewer
 * frames are what lets the gateway keep up with many floods.
 *
 * Read on each output chunk, so it costs one clock read per call and one libuv sample per window.
 * The window is the time since the previous sample, at least WINDOW_MS: after an idle spell the first
 * window is long and mostly idle, so a lone flood starts unbatched, as it should.
 */
import { performance } from 'node:perf_hooks';

/** Cumulative busy and idle milliseconds of the event loop (performance.eventLoopUtilization()). */
export interface LoopTimes {
	active: number;
	idle: number;
}

/** Where the load's figures come from; tests give their own. */
export interface EventLoopLoadOptions {
	/** @default performance.eventLoopUtilization */
	sample?: () => LoopTimes;
	/** @default performance.now */
	now?: () => number;
}

/** Shortest window a utilization is measured over. */
export const WINDOW_MS = 100;
/** Saturated from above this share of busy time… */
export const SATURATED_ABOVE = 0.9;
/**
 * …until the share drops below this one. Gathering makes the gateway cheaper per byte, which lowers
 * the share it is measured by: without the gap between the two thresholds it would switch back and
 * forth with every window.
 */
export const RELAXED_BELOW = 0.7;

/** Whether an event loop is saturated, measured over windows of at least {@link WINDOW_MS}. */
export class EventLoopLoad {
	readonly #sample: () => LoopTimes;
	readonly #now: () => number;
	#last: LoopTimes;
	#lastAt: number;
	#saturated = false;

	constructor({ sample = () => performance.eventLoopUtilization(), now = () => performance.now() }: EventLoopLoadOptions = {}) {
		this.#sample = sample;
		this.#now = now;
		this.#last = sample();
		this.#lastAt = now();
	}

	/** True while the loop was busy above {@link SATURATED_ABOVE} of the last window, until it drops below {@link RELAXED_BELOW}. */
	get saturated(): boolean {
		const now = this.#now();
		if (now - this.#lastAt < WINDOW_MS) return this.#saturated;
		const sample = this.#sample();
		const active = sample.active - this.#last.active;
		const total = active + sample.idle - this.#last.idle;
		this.#last = sample;
		this.#lastAt = now;
		const utilization = total > 0 ? active / total : 0;
		this.#saturated = utilization > (this.#saturated ? RELAXED_BELOW : SATURATED_ABOVE);
		return this.#saturated;
	}
}

/** The gateway's own event loop: one per process, shared by every terminal. */
export const gatewayLoad = new EventLoopLoad();
