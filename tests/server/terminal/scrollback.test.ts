import { describe, expect, it } from 'vitest';
import { Scrollback } from '../../../server/terminal/scrollback.ts';

const bytes = (text: string) => Buffer.from(text);

describe('Scrollback', () => {
	it('replays exactly the bytes after an offset', () => {
		const scrollback = new Scrollback(16);
		scrollback.append(bytes('hello '));
		scrollback.append(bytes('world'));
		expect(scrollback.end).toBe(11);
		expect(scrollback.readFrom(6)).toEqual({ offset: 6, lost: 0, data: bytes('world') });
		expect(scrollback.readFrom(11).data.length).toBe(0);
		expect(scrollback.readFrom(0).data.toString()).toBe('hello world');
	});

	it('wraps around and reports what fell out', () => {
		const scrollback = new Scrollback(8);
		scrollback.append(bytes('abcdef'));
		scrollback.append(bytes('ghijk'));
		expect(scrollback.start).toBe(3);
		expect(scrollback.end).toBe(11);
		expect(scrollback.readFrom(0)).toEqual({ offset: 3, lost: 3, data: bytes('defghijk') });
		expect(scrollback.readFrom(5)).toEqual({ offset: 5, lost: 0, data: bytes('fghijk') });
	});

	it('keeps the tail of a chunk larger than the buffer', () => {
		const scrollback = new Scrollback(4);
		scrollback.append(bytes('xy'));
		scrollback.append(bytes('0123456789'));
		expect(scrollback.end).toBe(12);
		expect(scrollback.readFrom(0)).toEqual({ offset: 8, lost: 8, data: bytes('6789') });
	});

	it('matches a plain concatenation under random appends', () => {
		const scrollback = new Scrollback(1000);
		let all = Buffer.alloc(0);
		let seed = 7;
		const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
		for (let i = 0; i < 500; i++) {
			const chunk = Buffer.from(Array.from({ length: Math.floor(random() * 300) }, () => Math.floor(random() * 256)));
			scrollback.append(chunk);
			all = Buffer.concat([all, chunk]);
			const since = Math.floor(random() * all.length);
			const { offset, data } = scrollback.readFrom(since);
			expect(offset).toBe(Math.max(since, all.length - 1000, 0));
			expect(data.equals(all.subarray(offset))).toBe(true);
		}
	});

	it('returns nothing for an offset beyond the end', () => {
		const scrollback = new Scrollback(8);
		scrollback.append(bytes('abc'));
		expect(scrollback.readFrom(10)).toEqual({ offset: 3, lost: 0, data: Buffer.alloc(0) });
	});

	it('rejects a capacity that is not a positive integer', () => {
		expect(() => new Scrollback(0)).toThrow('Scrollback capacity must be a positive integer, got 0');
	});
});
