import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../../../src/terminal/connection/backoff.ts';

describe('backoffDelay', () => {
	it('doubles from 500 ms up to the cap', () => {
		const delays = [0, 1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, { random: () => 0.5 }));
		expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 15_000, 15_000]);
	});

	it('spreads delays by the jitter fraction, never past the cap', () => {
		expect(backoffDelay(1, { random: () => 0 })).toBe(800);
		expect(backoffDelay(1, { random: () => 0.999_999 })).toBe(1200);
		expect(backoffDelay(10, { random: () => 0.999_999 })).toBe(15_000);
	});
});
