/**
 * Progress of a long lab operation: each step shows its number, the count, and elapsed time.
 * On a TTY the running step's line ticks every second; elsewhere (CI logs) output stays
 * line-oriented, with a "still running" line every `heartbeatMs` so a slow step is not silent.
 */

export interface ProgressOptions {
	/** Where progress goes. @default process.stdout */
	out?: NodeJS.WriteStream;
	/** Interval of "still running" lines when `out` is not a TTY. @default 15000 */
	heartbeatMs?: number;
	/** Told of each step's start and end, and of the finish (lab:setup keeps its state file with it). */
	onEvent?: (event: ProgressEvent) => void;
}

/** A step started, ended or failed (`number` of `total`), or every step is done (`finished`). */
export type ProgressEvent =
	| { kind: 'started' | 'done'; number: number; total: number; title: string }
	| { kind: 'failed'; number: number; total: number; title: string; error: string }
	| { kind: 'finished' };

/** What a step reports about itself when done, e.g. "cached" or "installed 3 packages". */
export type StepOutcome = string | undefined | void;

export class Progress {
	readonly #total: number;
	readonly #out: NodeJS.WriteStream;
	readonly #heartbeatMs: number;
	readonly #onEvent: (event: ProgressEvent) => void;
	readonly #started = performance.now();
	#current = 0;

	constructor(totalSteps: number, options: ProgressOptions = {}) {
		this.#total = totalSteps;
		this.#out = options.out ?? process.stdout;
		this.#heartbeatMs = options.heartbeatMs ?? 15_000;
		this.#onEvent = options.onEvent ?? (() => {});
	}

	/** Runs one step; its outcome string is shown after "done". Errors pass through, marked ✗. */
	async step(title: string, work: () => Promise<StepOutcome>): Promise<void> {
		this.#current += 1;
		const label = `[${this.#current}/${this.#total}] ${title}`;
		const stepStarted = performance.now();
		const elapsed = () => formatSeconds(performance.now() - stepStarted);
		const tty = this.#out.isTTY === true;

		const step = { number: this.#current, total: this.#total, title };
		this.#out.write(tty ? `${label} …` : `${label} …\n`);
		this.#onEvent({ kind: 'started', ...step });
		const ticker = tty
			? setInterval(() => this.#out.write(`\r\x1b[2K${label} … ${elapsed()}`), 1000)
			: setInterval(() => this.#out.write(`${label} … still running (${elapsed()})\n`), this.#heartbeatMs);
		try {
			const outcome = await work();
			clearInterval(ticker);
			const detail = outcome ? ` (${outcome})` : '';
			this.#out.write(`${tty ? '\r\x1b[2K' : ''}${label} ✓ ${elapsed()}${detail}\n`);
			this.#onEvent({ kind: 'done', ...step });
		} catch (error) {
			clearInterval(ticker);
			this.#out.write(`${tty ? '\r\x1b[2K' : ''}${label} ✗ failed after ${elapsed()}\n`);
			this.#onEvent({ kind: 'failed', ...step, error: (error as Error).message ?? String(error) });
			throw error;
		}
	}

	/** Prints the closing line with the total time. */
	finish(message: string): void {
		this.#onEvent({ kind: 'finished' });
		this.#out.write(`${message} in ${formatSeconds(performance.now() - this.#started)}\n`);
	}
}

/** "0.4s", "12.3s", "2m05s". */
export function formatSeconds(ms: number): string {
	const seconds = ms / 1000;
	if (seconds < 60) return `${seconds.toFixed(1)}s`;
	const whole = Math.round(seconds);
	return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
}
