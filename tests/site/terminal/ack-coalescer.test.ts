import { describe, expect, it } from 'vitest';
import { AckCoalescer } from '../../../src/terminal/ack-coalescer.ts';

function setup(thresholdBytes = 100) {
	const sent: number[] = [];
	const scheduled: Array<() => void> = [];
	const acks = new AckCoalescer((bytes) => sent.push(bytes), {
		thresholdBytes,
		schedule: (callback) => {
			scheduled.push(callback);
			return () => scheduled.splice(scheduled.indexOf(callback), 1);
		},
	});
	return { acks, sent, scheduled };
}

describe('AckCoalescer', () => {
	it('sends small amounts together on the next frame', () => {
		const { acks, sent, scheduled } = setup();
		acks.rendered(10);
		acks.rendered(20);
		expect(sent).toEqual([]);
		expect(scheduled).toHaveLength(1);
		scheduled[0]!();
		expect(sent).toEqual([30]);
	});

	it('sends at once past the threshold and cancels the pending frame', () => {
		const { acks, sent, scheduled } = setup();
		acks.rendered(60);
		acks.rendered(60);
		expect(sent).toEqual([120]);
		expect(scheduled).toHaveLength(0);
	});

	it('forgets pending bytes on discard', () => {
		const { acks, sent, scheduled } = setup();
		acks.rendered(10);
		acks.discard();
		expect(scheduled).toHaveLength(0);
		acks.flush();
		expect(sent).toEqual([]);
		expect(acks.pendingBytes).toBe(0);
	});
});
