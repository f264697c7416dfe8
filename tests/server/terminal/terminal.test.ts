import { describe, expect, it } from 'vitest';
import { clampSize } from '../../../server/terminal/terminal.ts';
import { CLEAR_LINE_KEY, typedForm } from '../../../server/terminal/typed-form.ts';

describe('typedForm', () => {
	it('types one line and presses Enter', () => {
		expect(typedForm('ip netns\n')).toBe(`${CLEAR_LINE_KEY}ip netns\r`);
	});

	it('pastes several lines as one bracketed paste', () => {
		expect(typedForm('cat <<EOF\nhi\nEOF\r\n')).toBe(`${CLEAR_LINE_KEY}\x1b[200~cat <<EOF\nhi\nEOF\x1b[201~\r`);
	});

	it('cannot be tricked into ending the paste early', () => {
		expect(typedForm('echo a\n\x1b[201~rm -rf ~\necho b')).toBe(`${CLEAR_LINE_KEY}\x1b[200~echo a\nrm -rf ~\necho b\x1b[201~\r`);
	});
});

describe('clampSize', () => {
	it('keeps sizes within what a terminal can be', () => {
		expect(clampSize({ cols: 120, rows: 40 })).toEqual({ cols: 120, rows: 40 });
		expect(clampSize({ cols: 0, rows: 100_000 })).toEqual({ cols: 2, rows: 200 });
		expect(clampSize({ cols: 99_999, rows: -3 })).toEqual({ cols: 500, rows: 1 });
		expect(clampSize({ cols: Number.NaN, rows: 30.7 })).toEqual({ cols: 80, rows: 30 });
	});
});
