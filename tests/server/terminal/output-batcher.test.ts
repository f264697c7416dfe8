import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { MAX_FRAME_BYTES, OutputBatcher } from '../../../server/terminal/output-batcher.ts';

describe('the output batcher', () => {
	it('sends a lone echo on the next turn, as one frame', async () => {
		const frames: Buffer[] = [];
		const batcher = new OutputBatcher((frame) => frames.push(frame));
		batcher.push(Buffer.from('a'));
		expect(frames).toEqual([]);
		await new Promise((resolve) => setImmediate(resolve));
		expect(frames.map(String)).toEqual(['a']);
	});

	it('gathers a flood into frames of at most MAX_FRAME_BYTES, in order', async () => {
		const frames: Buffer[] = [];
		const batcher = new OutputBatcher((frame) => frames.push(frame));
		const chunk = Buffer.alloc(4096, 0x78);
		for (let index = 0; index < 40; index++) {
			batcher.push(chunk);
			await new Promise((resolve) => setImmediate(resolve));
		}
		await sleep(10);
		const total = frames.reduce((sum, frame) => sum + frame.length, 0);
		expect(total).toBe(40 * 4096);
		expect(frames.length).toBeLessThan(20);
		expect(Math.max(...frames.map((frame) => frame.length))).toBeLessThanOrEqual(MAX_FRAME_BYTES);
	});

	it('sends at once when asked to flush', () => {
		const frames: Buffer[] = [];
		const batcher = new OutputBatcher((frame) => frames.push(frame));
		batcher.push(Buffer.from('x'));
		batcher.push(Buffer.from('y'));
		batcher.flush();
		expect(frames.map(String)).toEqual(['xy']);
	});
});
