/**
 * Waiting for a condition that only events can change (the shell's prompt, a command's end): each
 * waiter is checked again whenever the owner says something happened, never polled.
 */
export class ConditionWaiters {
	readonly #stopped: () => boolean;
	#waiters: Array<() => void> = [];

	/** @param stopped once true (the terminal ended), every waiter settles at the next check */
	constructor(stopped: () => boolean) {
		this.#stopped = stopped;
	}

	/** Resolves true once `condition` holds (checked on every {@link check}), false after `timeoutMs` or once stopped without it. */
	waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
		if (condition()) return Promise.resolve(true);
		return new Promise((resolve) => {
			const timer = setTimeout(() => {
				this.#waiters = this.#waiters.filter((waiter) => waiter !== check);
				resolve(false);
			}, timeoutMs);
			const check = () => {
				if (!condition() && !this.#stopped()) return;
				clearTimeout(timer);
				this.#waiters = this.#waiters.filter((waiter) => waiter !== check);
				resolve(condition());
			};
			this.#waiters.push(check);
		});
	}

	/** Something happened: every waiter checks its condition again. */
	check(): void {
		for (const waiter of [...this.#waiters]) waiter();
	}
}
