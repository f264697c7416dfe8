/** Percentiles of the benchmark output: nearest rank, always a measured value. */
import { describe, expect, it } from 'vitest';
import { percentile, round, summarize } from '../../bench/lib/stats.ts';

describe('percentile (nearest rank)', () => {
	const hundred = Array.from({ length: 100 }, (_, index) => index + 1);

	it('takes the sample at rank ceil(p/100 · n)', () => {
		expect(percentile(hundred, 50)).toBe(50);
		expect(percentile(hundred, 99)).toBe(99);
		expect(percentile(hundred, 100)).toBe(100);
		expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
	});

	it('is the maximum for p99 of fewer than 100 samples', () => {
		expect(percentile([3, 7, 9], 99)).toBe(9);
		expect(percentile(Array.from({ length: 150 }, (_, index) => index), 99)).toBe(148);
	});

	it('refuses no samples and percentiles out of range', () => {
		expect(() => percentile([], 50)).toThrow('percentile of no samples');
		expect(() => percentile([1], 0)).toThrow('percentile must be in (0, 100], got 0');
	});
});

describe('summarize', () => {
	it('sorts a copy and reports n, p50, p99, min, max, mean', () => {
		const samples = [5, 1, 4, 2, 3];
		expect(summarize(samples)).toEqual({ n: 5, p50: 3, p99: 5, min: 1, max: 5, mean: 3 });
		expect(samples).toEqual([5, 1, 4, 2, 3]);
	});

	it('is null without samples', () => {
		expect(summarize([])).toBeNull();
	});
});

describe('round', () => {
	it('keeps three significant digits', () => {
		expect(round(0.123456)).toBe(0.123);
		expect(round(12.3456)).toBe(12.3);
		expect(round(1234.56)).toBe(1235);
		expect(round(0)).toBe(0);
	});
});
