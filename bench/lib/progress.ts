/**
 * Progress on stderr: one plain line per step with the elapsed time of the whole run, so it reads the
 * same in a terminal and in a CI log (no spinners, no carriage returns).
 */
export class Progress {
	readonly #started = performance.now();
	readonly #write: (line: string) => void;

	constructor(write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)) {
		this.#write = write;
	}

	/** Prints `[bench m:ss] step: detail`. */
	step(step: string, detail: string): void {
		this.#write(`[bench ${this.elapsed()}] ${step}: ${detail}`);
	}

	/**
	 * A counter for a long step: `tick()` after each item; prints "done/total" at most every two
	 * seconds and once at the end.
	 */
	counter(step: string, what: string, total: number): () => void {
		let done = 0;
		let printedAt = performance.now();
		return () => {
			done++;
			const now = performance.now();
			if (done === total || now - printedAt >= 2000) {
				printedAt = now;
				this.step(step, `${done}/${total} ${what}`);
			}
		};
	}

	elapsed(): string {
		const seconds = Math.floor((performance.now() - this.#started) / 1000);
		return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
	}
}
