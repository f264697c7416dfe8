/**
 * Everything a benchmark starts (gateways, wetty, servers, browsers, scratch directories) is registered
 * here as it starts and stopped in reverse order when the benchmark ends — normally, on failure, or on
 * Ctrl-C.
 */
export class Cleanup {
	readonly #stack: Array<{ what: string; stop: () => unknown; timeoutMs: number }> = [];

	/** Registers how to stop something that was just started; `timeoutMs` bounds the wait for it. */
	defer(what: string, stop: () => unknown, timeoutMs = 15_000): void {
		this.#stack.push({ what, stop, timeoutMs });
	}

	/** Stops everything registered, newest first; a failing or hanging stop is reported and skipped. */
	async run(report: (line: string) => void = (line) => console.error(line)): Promise<void> {
		while (this.#stack.length > 0) {
			const { what, stop, timeoutMs } = this.#stack.pop()!;
			let timer: NodeJS.Timeout | undefined;
			try {
				await Promise.race([
					Promise.resolve().then(stop),
					new Promise((_, reject) => {
						timer = setTimeout(() => reject(new Error(`did not stop within ${timeoutMs / 1000} s`)), timeoutMs);
					}),
				]);
			} catch (error) {
				report(`cleanup: stopping ${what} failed: ${(error as Error).message}`);
			} finally {
				clearTimeout(timer);
			}
		}
	}
}
