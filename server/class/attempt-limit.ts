/**
 * Failed attempts (wrong join codes, wrong instructor tokens) per key, in memory: a restart forgets
 * them. Only failures count, so a class that gets it right costs nothing.
 */
import type { ServerResponse } from 'node:http';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { sendError } from '../http-util.ts';

export class AttemptLimit {
	readonly #limiter: RateLimiterMemory;

	constructor(attemptsPerMinute: number) {
		this.#limiter = new RateLimiterMemory({ points: attemptsPerMinute, duration: 60 });
	}

	/** Ms until `key` may try again, or 0 when it has attempts left. */
	async blockedFor(key: string): Promise<number> {
		const state = await this.#limiter.get(key);
		return state && state.remainingPoints <= 0 ? Math.max(1, state.msBeforeNext) : 0;
	}

	/** Counts a failed attempt; returns ms until `key` may try again once it has none left, else null. */
	async countFailure(key: string): Promise<number | null> {
		try {
			await this.#limiter.consume(key);
			return null;
		} catch (rejection) {
			if (rejection instanceof RateLimiterRes) return rejection.msBeforeNext;
			throw rejection;
		}
	}
}

/** Answers 429 (`LAB_ERR_JOIN_RATE`) with when to try again, in whole seconds. */
export function sendTooMany(res: ServerResponse, retryInMs: number): void {
	const seconds = Math.max(1, Math.ceil(retryInMs / 1000));
	res.setHeader('Retry-After', String(seconds));
	sendError(res, 'LAB_ERR_JOIN_RATE', `Too many attempts from this address: try again in ${seconds} s.`, { retryAfterSeconds: seconds });
}
