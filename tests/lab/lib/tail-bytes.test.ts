/** What a command run in a lab leaves the gateway: the last bytes of each stream, whatever it prints. */
import { describe, expect, it } from 'vitest';
import { TailBytes } from '../../../lab/lib/tail-bytes.ts';

describe('TailBytes', () => {
	it('keeps everything under its limit, and only the last bytes past it', () => {
		const tail = new TailBytes(10);
		tail.push(Buffer.from('abc'));
		tail.push(Buffer.from('def'));
		expect(tail.text()).toBe('abcdef');
		for (const piece of ['ghijk', 'lmnop', 'q']) tail.push(Buffer.from(piece));
		expect(tail.text()).toBe('hijklmnopq');
	});

	it('keeps the last bytes of a stream of 40 MB, cut inside a chunk', () => {
		const tail = new TailBytes(1024);
		const chunk = Buffer.alloc(4096, 'x');
		for (let index = 0; index < 10_000; index++) tail.push(chunk);
		tail.push(Buffer.from('end'));
		const text = tail.text();
		expect(text).toHaveLength(1024);
		expect(text.endsWith('xend')).toBe(true);
	});
});
