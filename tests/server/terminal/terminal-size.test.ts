import { describe, expect, it } from 'vitest';
import { clampSize } from '../../../server/terminal/terminal-size.ts';

describe('clampSize', () => {
	it('keeps sizes within what a terminal can be', () => {
		expect(clampSize({ cols: 120, rows: 40 })).toEqual({ cols: 120, rows: 40 });
		expect(clampSize({ cols: 0, rows: 100_000 })).toEqual({ cols: 2, rows: 200 });
		expect(clampSize({ cols: 99_999, rows: -3 })).toEqual({ cols: 500, rows: 1 });
		expect(clampSize({ cols: Number.NaN, rows: 30.7 })).toEqual({ cols: 80, rows: 30 });
	});
});
