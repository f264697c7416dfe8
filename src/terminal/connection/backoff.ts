/**
 * Reconnect delays: exponential, capped, with jitter so that a class of readers whose gateway
 * restarted does not reconnect in lockstep.
 */

export interface BackoffOptions {
	/** Delay before the first retry. @default 500 */
	initialMs?: number;
	/** Longest delay. @default 15000 */
	maxMs?: number;
	/** Growth per attempt. @default 2 */
	factor?: number;
	/** Fraction of the delay added or removed at random. @default 0.2 */
	jitter?: number;
	/** Random source in [0, 1), injectable for tests. @default Math.random */
	random?: () => number;
}

/**
 * @param attempt 0 for the first retry after a failure, 1 for the second, …
 * @returns milliseconds to wait
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
	const { initialMs = 500, maxMs = 15_000, factor = 2, jitter = 0.2, random = Math.random } = options;
	const base = Math.min(maxMs, initialMs * factor ** Math.max(0, attempt));
	const spread = base * jitter * (random() * 2 - 1);
	return Math.round(Math.min(maxMs, Math.max(0, base + spread)));
}
