import { describe, expect, it } from 'vitest';
import { UntilWatches } from '../../../../src/terminal/panel/until-watch.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('UntilWatches', () => {
	it('matches a block’s pattern against its terminal’s text, colours and carriage returns removed', () => {
		const watches = new UntilWatches();
		watches.watch('main', 'chapters/sidecar:4', '^nginx is up$');
		expect(watches.output('main', bytes('\x1b[32mnginx is \x1b[0m'))).toEqual([]);
		expect(watches.output('main', bytes('up\r\n'))).toEqual(['chapters/sidecar:4']);
		// Matched once, then no longer watched.
		expect(watches.output('main', bytes('nginx is up\r\n'))).toEqual([]);
		expect(watches.size).toBe(0);
	});

	it('reads only its own terminal, and a character cut between two reads whole', () => {
		const watches = new UntilWatches();
		watches.watch('logs', 'b', 'grüße');
		expect(watches.output('main', bytes('grüße'))).toEqual([]);
		const word = bytes('grüße');
		expect(watches.output('logs', word.subarray(0, 3))).toEqual([]);
		expect(watches.output('logs', word.subarray(3))).toEqual(['b']);
	});

	it('ignores an invalid pattern, and forgets a block that reported done', () => {
		const watches = new UntilWatches();
		watches.watch('main', 'bad', '(');
		watches.watch('main', 'done', 'x');
		watches.forget('done');
		expect(watches.size).toBe(0);
	});

	it('keeps a bounded tail of a flood', () => {
		const watches = new UntilWatches();
		watches.watch('main', 'b', '^START');
		// The pattern's line is further back than the tail that is kept: it is not found.
		expect(watches.output('main', bytes(`START\n${'y'.repeat(70_000)}`))).toEqual([]);
		expect(watches.output('main', bytes(`\nSTART`))).toEqual(['b']);
	});
});
