import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { MAX_FRAME_BYTES, OutputBatcher } from '../../../server/terminal/output-batcher.ts';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
const CHUNK = Buffer.alloc(4096, 0x78);

/** Pushes `reads` chunks one event-loop turn apart, as a pty gives a flood, and waits for the last frame. */
async function flood(batcher: OutputBatcher, reads: number): Promise<void> {
	for (let index = 0; index < reads; index++) {
		batcher.push(CHUNK);
		await nextTurn();
	}
	await sleep(10);
}

describe('the output batcher', () => {
	it('sends a lone echo on the next turn, as one frame, without asking whether to gather', async () => {
		const frames: Buffer[] = [];
		let asked = 0;
		const batcher = new OutputBatcher(
			(frame) => frames.push(frame),
			() => ++asked > 0,
		);
		batcher.push(Buffer.from('a'));
		expect(frames).toEqual([]);
		await nextTurn();
		expect(frames.map(String)).toEqual(['a']);
		expect(asked).toBe(0);
	});

	it('sends a flood read by read while gathering does not pay', async () => {
		const frames: Buffer[] = [];
		const batcher = new OutputBatcher(
			(frame) => frames.push(frame),
			() => false,
		);
		await flood(batcher, 40);
		expect(frames.length).toBe(40);
		expect(frames.every((frame) => frame.equals(CHUNK))).toBe(true);
	});

	it('gathers a flood into frames of at most MAX_FRAME_BYTES, in order, while gathering pays', async () => {
		const frames: Buffer[] = [];
		const batcher = new OutputBatcher(
			(frame) => frames.push(frame),
			() => true,
		);
		const numbered = Array.from({ length: 40 }, (_, index) => Buffer.alloc(4096, index));
		for (const chunk of numbered) {
			batcher.push(chunk);
			await nextTurn();
		}
		await sleep(10);
		expect(Buffer.concat(frames).equals(Buffer.concat(numbered))).toBe(true);
		expect(frames.length).toBeLessThan(20);
		expect(Math.max(...frames.map((frame) => frame.length))).toBeLessThanOrEqual(MAX_FRAME_BYTES);
	});

	it('follows the decision from one frame to the next, within a flood', async () => {
		const frames: Buffer[] = [];
		let reads = 0;
		const batcher = new OutputBatcher(
			(frame) => frames.push(frame),
			() => reads > 20,
		);
		for (; reads < 60; reads++) {
			batcher.push(CHUNK);
			await nextTurn();
		}
		await sleep(10);
		// The first 21 reads one frame each (the decision is asked before the frame), the other 39 gathered.
		expect(frames.slice(0, 21).every((frame) => frame.length === CHUNK.length)).toBe(true);
		expect(frames.length).toBeLessThan(21 + 20);
		expect(Buffer.concat(frames).length).toBe(60 * CHUNK.length);
	});

	it('sends a gathered frame at once when flushed, and nothing more when its timer would have fired', async () => {
		const frames: Buffer[] = [];
		const batcher = new OutputBatcher(
			(frame) => frames.push(frame),
			() => true,
		);
		batcher.push(Buffer.from('a'));
		batcher.flush();
		// Within FLOOD_GAP_MS of that frame: gathered, on a timer.
		batcher.push(Buffer.from('b'));
		batcher.push(Buffer.from('c'));
		expect(frames.map(String)).toEqual(['a']);
		batcher.flush();
		expect(frames.map(String)).toEqual(['a', 'bc']);
		await sleep(10);
		expect(frames.map(String)).toEqual(['a', 'bc']);
	});

	it('sends at once when asked to flush', () => {
		const frames: Buffer[] = [];
		const batcher = new OutputBatcher(
			(frame) => frames.push(frame),
			() => true,
		);
		batcher.push(Buffer.from('x'));
		batcher.push(Buffer.from('y'));
		batcher.flush();
		expect(frames.map(String)).toEqual(['xy']);
	});
});
