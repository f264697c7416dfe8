/**
 * Percentiles and summaries of benchmark samples. Percentiles use the nearest-rank method: the p-th
 * percentile of n sorted samples is the sample at rank ceil(p/100 · n), so it is always a value that
 * was measured, and p99 of fewer than 100 samples is the maximum (the table says how many there were).
 */

/** Nearest-rank percentile of samples sorted ascending. */
export function percentile(sorted: readonly number[], p: number): number {
	if (sorted.length === 0) throw new RangeError('percentile of no samples');
	if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
	const rank = Math.ceil((p / 100) * sorted.length);
	return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface Summary {
	n: number;
	p50: number;
	p99: number;
	min: number;
	max: number;
	mean: number;
}

/** Summary of unsorted samples; null when there are none. */
export function summarize(samples: readonly number[]): Summary | null {
	if (samples.length === 0) return null;
	const sorted = [...samples].sort((a, b) => a - b);
	const sum = sorted.reduce((total, value) => total + value, 0);
	return {
		n: sorted.length,
		p50: percentile(sorted, 50),
		p99: percentile(sorted, 99),
		min: sorted[0]!,
		max: sorted.at(-1)!,
		mean: sum / sorted.length,
	};
}

/** Rounds for output: three significant digits are more than any of these measurements carry. */
export function round(value: number): number {
	if (!Number.isFinite(value) || value === 0) return value;
	const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(value))));
	return Number(value.toFixed(Math.min(digits, 4)));
}
