import { describe, expect, it, vi } from 'vitest';
import { AckCoalescer, type Scheduler } from '../../../../src/terminal/connection/ack-coalescer.ts';

function setup(batchBytes = 100, remainder?: Scheduler) {
	const sent: number[] = [];
	const acks = new AckCoalescer((bytes) => sent.push(bytes), { batchBytes, remainder });
	return { acks, sent };
}

/** A scheduler the test runs by hand. */
function manualScheduler() {
	const scheduled: Array<() => void> = [];
	const schedule: Scheduler = (callback) => {
		scheduled.push(callback);
		return () => scheduled.splice(scheduled.indexOf(callback), 1);
	};
	return { schedule, scheduled };
}

describe('AckCoalescer', () => {
	it('sends nothing for output below one batch, and sets no timer to send it later: an echo costs no ack', () => {
		vi.useFakeTimers();
		try {
			const { acks, sent } = setup(64 * 1024);
			// 1000 keys echoed, one byte each.
			for (let key = 0; key < 1000; key++) acks.rendered(1);
			expect(vi.getTimerCount()).toBe(0);
			vi.runAllTimers();
			expect(sent).toEqual([]);
			expect(acks.pendingBytes).toBe(1000);
		} finally {
			vi.useRealTimers();
		}
	});

	it('sends once a full batch is waiting, all that is waiting, and starts the next batch from nothing', () => {
		const { acks, sent } = setup();
		acks.rendered(60);
		expect(sent).toEqual([]);
		acks.rendered(60);
		expect(sent).toEqual([120]);
		expect(acks.pendingBytes).toBe(0);
		acks.rendered(99);
		expect(sent).toEqual([120]);
		acks.rendered(1);
		expect(sent).toEqual([120, 100]);
	});

	it('leaves less than one batch unacknowledged after any output, so a gateway whose low watermark is at least a batch always resumes', () => {
		const batch = 64 * 1024;
		const { acks, sent } = setup(batch);
		let rendered = 0;
		// Frames of every size a flood or a prompt produces, in an order that crosses batches unevenly.
		for (let frame = 1; frame <= 500; frame++) {
			const bytes = (frame * 7919) % (96 * 1024);
			acks.rendered(bytes);
			rendered += bytes;
			const acked = sent.reduce((total, bytes) => total + bytes, 0);
			expect(rendered - acked).toBe(acks.pendingBytes);
			expect(acks.pendingBytes).toBeLessThan(batch);
		}
		expect(sent.every((bytes) => bytes >= batch)).toBe(true);
	});

	it('ignores renders of nothing', () => {
		const { acks, sent } = setup(1);
		acks.rendered(0);
		expect(sent).toEqual([]);
	});

	it('forgets pending bytes on discard', () => {
		const { acks, sent } = setup();
		acks.rendered(10);
		acks.discard();
		acks.rendered(90);
		expect(sent).toEqual([]);
		expect(acks.pendingBytes).toBe(90);
	});

	it('refuses a batch size that is not a positive integer', () => {
		for (const batchBytes of [0, -1, 1.5, Number.NaN]) expect(() => setup(batchBytes)).toThrow(RangeError);
	});

	describe('with a remainder scheduler (the xterm.js guide policy the benchmarks compare)', () => {
		it('sends a remainder smaller than a batch when the scheduler fires', () => {
			const { schedule, scheduled } = manualScheduler();
			const { acks, sent } = setup(100, schedule);
			acks.rendered(10);
			acks.rendered(20);
			expect(sent).toEqual([]);
			expect(scheduled).toHaveLength(1);
			scheduled[0]!();
			expect(sent).toEqual([30]);
		});

		it('sends at once past a batch and cancels the scheduled remainder', () => {
			const { schedule, scheduled } = manualScheduler();
			const { acks, sent } = setup(100, schedule);
			acks.rendered(60);
			acks.rendered(60);
			expect(sent).toEqual([120]);
			expect(scheduled).toHaveLength(0);
		});

		it('cancels the scheduled remainder on discard', () => {
			const { schedule, scheduled } = manualScheduler();
			const { acks, sent } = setup(100, schedule);
			acks.rendered(10);
			acks.discard();
			expect(scheduled).toHaveLength(0);
			expect(sent).toEqual([]);
			expect(acks.pendingBytes).toBe(0);
		});
	});
});
