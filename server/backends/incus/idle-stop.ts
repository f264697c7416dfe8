/**
 * The idle stop: a reader's lab is stopped once they have had no terminal for `idleStopMs` (its
 * files and podman's state stay on disk; their next terminal starts it again). Counts each reader's
 * open terminals and keeps one timer per reader with none.
 */

export interface IdleStopOptions {
	/** A lab whose reader has had no terminal this long is stopped. */
	idleStopMs: number;
	/** The reader's lab, once they have one. */
	labOf(reader: string): string | undefined;
	/** The reader's last terminal of `lab` ended at `at` (epoch ms): recorded, so that a restarted gateway counts from then. */
	lastUsed(lab: string, at: number): void;
	/** Stops the idle `lab`. */
	stop(lab: string): void;
}

export class IdleStop {
	readonly #options: IdleStopOptions;
	readonly #terminals = new Map<string, number>();
	readonly #timers = new Map<string, NodeJS.Timeout>();

	constructor(options: IdleStopOptions) {
		this.#options = options;
	}

	/** One more terminal of `reader`: their lab is not idle. */
	opened(reader: string): void {
		this.#count(reader, +1);
	}

	/** One terminal of `reader` fewer: with none left, the idle time starts now. */
	ended(reader: string): void {
		this.#count(reader, -1);
	}

	/** Stops the reader's lab once it has had no terminal for the idle time (counted from `since`). */
	arm(reader: string, since: number | null): void {
		const wait = Math.max(0, (since ?? Date.now()) + this.#options.idleStopMs - Date.now());
		const timer = setTimeout(() => {
			this.#timers.delete(reader);
			const lab = this.#options.labOf(reader);
			if (lab && (this.#terminals.get(reader) ?? 0) === 0) this.#options.stop(lab);
		}, wait);
		timer.unref();
		this.#timers.set(reader, timer);
	}

	/** The reader's lab is not to be stopped (it is being removed). */
	cancel(reader: string): void {
		clearTimeout(this.#timers.get(reader));
		this.#timers.delete(reader);
	}

	close(): void {
		for (const timer of this.#timers.values()) clearTimeout(timer);
	}

	#count(reader: string, delta: number): void {
		const count = Math.max(0, (this.#terminals.get(reader) ?? 0) + delta);
		this.#terminals.set(reader, count);
		this.cancel(reader);
		if (count > 0) return;
		const lab = this.#options.labOf(reader);
		if (lab) this.#options.lastUsed(lab, Date.now());
		this.arm(reader, Date.now());
	}
}
