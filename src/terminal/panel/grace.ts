/**
 * The gateway's grace period in words: how long shells live on after the reader closes the panel
 * or leaves the page (`graceMs` of `GET /api/lab`).
 */

/** "10 minutes", "1 hour", "45 seconds". */
export function describeGrace(graceMs: number): string {
	const units: Array<[string, number]> = [
		['hour', 3_600_000],
		['minute', 60_000],
		['second', 1_000],
	];
	for (const [unit, ms] of units) {
		if (graceMs >= ms) {
			const count = Math.round(graceMs / ms);
			return `${count} ${unit}${count === 1 ? '' : 's'}`;
		}
	}
	return 'a moment';
}
