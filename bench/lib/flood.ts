/**
 * Output floods, measured the same way for every target: the shell prints a start marker, `bytes`
 * bytes of "y", and an end marker; the client times the bytes between the markers. The markers are
 * typed with quotes inside (FLOOD""-START), so the echo of the command line never matches them.
 * "y" rather than NUL bytes: wetty sends output as JSON text, where a NUL costs six bytes.
 */
import { summarize } from './stats.ts';
import { StreamMatcher, type BenchTerminal, type OutputChunk } from './terminal.ts';

/** The markers as the shell prints them (the browser benchmark looks for them inside the page). */
export const START = 'FLOOD-START\r\n';
export const END = 'FLOOD-END';

/** The command line a shell target runs (followed by Enter). */
export function floodCommand(bytes: number): string {
	return `echo FLOOD""-START; head -c ${bytes} /dev/zero | tr '\\0' y; echo FLOOD""-END`;
}

export interface FloodTiming {
	/** Bytes between the markers: must equal what was asked for. */
	bytes: number;
	/** performance.now() at the chunk holding the start marker, and at the one holding the end marker. */
	startedAt: number;
	endedAt: number;
	seconds: number;
	/** Megabytes (10^6 bytes) per second. */
	rate: number;
}

/**
 * Feed it every output chunk; `result` resolves at the end marker. `markers: false` for the network
 * floor, whose server sends only the flood: then the clock runs from the first byte to byte `expected`.
 */
export class FloodMeter {
	readonly result: Promise<FloodTiming>;
	readonly #expected: number;
	readonly #markers: boolean;
	readonly #start = new StreamMatcher(START);
	readonly #end = new StreamMatcher(END);
	#seen = 0;
	#floodFrom = -1;
	#startedAt = 0;
	#resolve!: (timing: FloodTiming) => void;
	#done = false;

	constructor(expected: number, { markers = true } = {}) {
		this.#expected = expected;
		this.#markers = markers;
		this.result = new Promise((resolve) => (this.#resolve = resolve));
	}

	feed(chunk: OutputChunk): void {
		if (this.#done) return;
		const now = performance.now();
		const offset = this.#seen;
		this.#seen += chunk.length;
		if (!this.#markers) {
			if (this.#floodFrom < 0) {
				this.#floodFrom = offset;
				this.#startedAt = now;
			}
			if (this.#seen - this.#floodFrom >= this.#expected) this.#finish(this.#seen - this.#floodFrom, now);
			return;
		}
		// Both matchers see every chunk, so that their offsets count from the start of the stream.
		const end = this.#end.feed(chunk);
		if (this.#floodFrom < 0) {
			const at = this.#start.feed(chunk);
			if (at < 0) return;
			this.#floodFrom = at + START.length;
			this.#startedAt = now;
		}
		if (end >= 0) this.#finish(end - this.#floodFrom, now);
	}

	/** Attaches the meter to a terminal until the flood is over. */
	attach(terminal: BenchTerminal): Promise<FloodTiming> {
		const stop = terminal.onOutput((chunk) => this.feed(chunk));
		return this.result.finally(stop);
	}

	#finish(bytes: number, endedAt: number): void {
		this.#done = true;
		const seconds = (endedAt - this.#startedAt) / 1000;
		this.#resolve({ bytes, startedAt: this.#startedAt, endedAt, seconds, rate: bytes / 1e6 / seconds });
	}
}

/** Total bytes over the wall-clock time from the first flood's start to the last one's end (MB/s). */
export function aggregate(timings: readonly FloodTiming[]): number {
	const bytes = timings.reduce((total, timing) => total + timing.bytes, 0);
	// Sequential runs: the sum of their durations; parallel ones: first start to last end.
	const overlapping = timings.length > 1 && timings.some((timing, index) => index > 0 && timing.startedAt < timings[index - 1]!.endedAt);
	const seconds = overlapping
		? (Math.max(...timings.map((timing) => timing.endedAt)) - Math.min(...timings.map((timing) => timing.startedAt))) / 1000
		: timings.reduce((total, timing) => total + timing.seconds, 0);
	return bytes / 1e6 / seconds;
}

/** `value`: aggregate MB/s; `p50`: the median of the single transfers' rates (p99 means nothing for a handful of runs). */
export function rateFields(timings: readonly FloodTiming[]) {
	const rates = summarize(timings.map((timing) => timing.rate))!;
	return { n: timings.length, p50: rates.p50, p99: null, unit: 'MB/s', value: aggregate(timings), min: rates.min, max: rates.max };
}
