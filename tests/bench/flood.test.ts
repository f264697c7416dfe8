/** The flood meter and stream matcher, fed raw chunks split at every awkward place. */
import { describe, expect, it } from 'vitest';
import { FloodMeter, floodCommand } from '../../bench/lib/flood.ts';
import { StreamMatcher, countByte } from '../../bench/lib/terminal.ts';

/** Splits `text` into chunks of `size` (the last may be shorter). */
function chunks(text: string, size: number): string[] {
	const parts: string[] = [];
	for (let start = 0; start < text.length; start += size) parts.push(text.slice(start, start + size));
	return parts;
}

describe('StreamMatcher', () => {
	it('finds text split across chunks, at its stream offset', () => {
		for (const size of [1, 2, 3, 5, 7, 64]) {
			const matcher = new StreamMatcher('MARK');
			const found = chunks('abcdefMARKxyz', size).map((chunk) => matcher.feed(Buffer.from(chunk)));
			expect(found.find((offset) => offset >= 0), `chunks of ${size}`).toBe(6);
		}
	});

	it('works on strings (socket.io text frames) as on buffers', () => {
		const matcher = new StreamMatcher('MARK');
		expect(matcher.feed('xxMA')).toBe(-1);
		expect(matcher.feed('RKyy')).toBe(2);
	});
});

describe('FloodMeter', () => {
	const stream = (flood: number) => `$ ${floodCommand(flood)}\r\nFLOOD-START\r\n${'y'.repeat(flood)}FLOOD-END\r\n$ `;

	it('counts exactly the bytes between the markers, however the output is split', async () => {
		for (const size of [1, 4, 9, 4095]) {
			const meter = new FloodMeter(5000);
			for (const chunk of chunks(stream(5000), size)) meter.feed(Buffer.from(chunk, 'latin1'));
			expect((await meter.result).bytes, `chunks of ${size}`).toBe(5000);
		}
	});

	it('is not fooled by the echo of the typed command', async () => {
		const meter = new FloodMeter(10);
		meter.feed(`$ ${floodCommand(10)}\r\n`);
		let done = false;
		void meter.result.then(() => (done = true));
		await Promise.resolve();
		expect(done).toBe(false);
		meter.feed(`FLOOD-START\r\n${'y'.repeat(10)}FLOOD-END\r\n`);
		expect((await meter.result).bytes).toBe(10);
	});

	it('without markers, times the first `expected` bytes', async () => {
		const meter = new FloodMeter(6, { markers: false });
		meter.feed(Buffer.from('yyy'));
		meter.feed(Buffer.from('yyy'));
		expect((await meter.result).bytes).toBe(6);
	});
});

describe('countByte', () => {
	it('counts a byte in buffers and strings', () => {
		expect(countByte(Buffer.from('k\b \bk'), 0x6b)).toBe(2);
		expect(countByte('\b \b\b \b', 0x20)).toBe(2);
		expect(countByte('', 0x20)).toBe(0);
	});
});
