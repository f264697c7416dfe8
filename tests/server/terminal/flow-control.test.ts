import { describe, expect, it } from 'vitest';
import { BEHIND_FOR_MS, FlowControl, MAX_ACK_BYTES, MAX_BEHIND_BYTES } from '../../../server/terminal/flow-control.ts';
import { AckCoalescer } from '../../../src/terminal/connection/ack-coalescer.ts';

function valve() {
	const log: string[] = [];
	return { log, pause: () => log.push('pause'), resume: () => log.push('resume') };
}

describe('flow control', () => {
	it('pauses above the high watermark of any reader and resumes once all are under the low one', () => {
		const output = valve();
		const flow = new FlowControl<string>({ highWatermarkBytes: 100, lowWatermarkBytes: 10 }, output);
		flow.add('a', { holdsOutput: true });
		flow.add('b', { holdsOutput: true });
		flow.sending('a', 60);
		flow.sending('b', 60);
		expect(output.log).toEqual([]);
		flow.sending('a', 50);
		expect(output.log).toEqual(['pause']);
		expect(flow.ack('a', 105)).toBe('ok');
		expect(output.log).toEqual(['pause']);
		expect(flow.ack('b', 55)).toBe('ok');
		expect(output.log).toEqual(['pause', 'resume']);
	});

	it('never pauses for a viewer, and says to drop one that fell too far behind', () => {
		const output = valve();
		const flow = new FlowControl<string>({ highWatermarkBytes: 100, lowWatermarkBytes: 10 }, output);
		flow.add('viewer', { holdsOutput: false });
		expect(flow.sending('viewer', MAX_BEHIND_BYTES + 1)).toBe(true);
		expect(flow.sending('viewer', 1)).toBe(false);
		expect(output.log).toEqual([]);
	});

	it('refuses an ack of nothing and an ack of more than was sent', () => {
		const flow = new FlowControl<string>({ highWatermarkBytes: 100, lowWatermarkBytes: 10 }, valve());
		flow.add('a', { holdsOutput: true });
		flow.sending('a', 20);
		expect(flow.ack('a', 0)).toBe('nothing-owed');
		expect(flow.ack('a', 21)).toBe('more-than-owed');
		expect(flow.ack('a', 20)).toBe('ok');
		expect(flow.unacked('a')).toBe(0);
	});

	it('resumes when the reader holding the output back leaves', () => {
		const output = valve();
		const flow = new FlowControl<string>({ highWatermarkBytes: 100, lowWatermarkBytes: 10 }, output);
		flow.add('a', { holdsOutput: true });
		flow.sending('a', 200);
		flow.remove('a');
		expect(output.log).toEqual(['pause', 'resume']);
	});
});

describe('a reader behind its output', () => {
	it('is one that held the output back now or within BEHIND_FOR_MS; a viewer never is', () => {
		let now = 0;
		const flow = new FlowControl<string>({ highWatermarkBytes: 100, lowWatermarkBytes: 10 }, valve(), () => now);
		flow.add('viewer', { holdsOutput: false });
		flow.add('reader', { holdsOutput: true });
		flow.sending('viewer', 1000);
		flow.sending('reader', 100);
		expect(flow.readerBehind).toBe(false);
		flow.sending('reader', 1);
		expect(flow.readerBehind).toBe(true);
		now += 10 * BEHIND_FOR_MS;
		expect(flow.readerBehind).toBe(true);
		flow.ack('reader', 101);
		now += BEHIND_FOR_MS - 1;
		expect(flow.readerBehind).toBe(true);
		now += 1;
		expect(flow.readerBehind).toBe(false);
	});
});

describe('the ack batch sent in ready', () => {
	it('is the low watermark, and never above it', () => {
		for (const [low, high] of [
			[1024, 16 * 1024],
			[64 * 1024, 384 * 1024],
			[32 * 1024 * 1024, 64 * 1024 * 1024],
		] as const) {
			const flow = new FlowControl<string>({ highWatermarkBytes: high, lowWatermarkBytes: low }, valve());
			expect(flow.ackBytes).toBeLessThanOrEqual(low);
			expect(flow.ackBytes).toBeLessThanOrEqual(MAX_ACK_BYTES);
		}
		expect(new FlowControl<string>({ highWatermarkBytes: 384 * 1024, lowWatermarkBytes: 64 * 1024 }, valve()).ackBytes).toBe(64 * 1024);
	});

	it('stays far below where a viewer is dropped, whatever the watermarks', () => {
		const flow = new FlowControl<string>({ highWatermarkBytes: 64 * 1024 * 1024, lowWatermarkBytes: 32 * 1024 * 1024 }, valve());
		expect(flow.ackBytes).toBe(MAX_ACK_BYTES);
		expect(MAX_ACK_BYTES * 2).toBeLessThan(MAX_BEHIND_BYTES);
	});

	it('brings a paused terminal back for a client that acks only full batches, with no timer', () => {
		// The gateway half and the site's client half, driven together: frames of uneven sizes are sent
		// while output runs, the client renders each at once and acks only full batches.
		for (const [low, high] of [
			[64 * 1024, 384 * 1024],
			[1024, 16 * 1024],
			[10_000, 10_001],
		] as const) {
			const output = valve();
			const flow = new FlowControl<string>({ highWatermarkBytes: high, lowWatermarkBytes: low }, output);
			flow.add('reader', { holdsOutput: true });
			const client = new AckCoalescer((bytes) => expect(flow.ack('reader', bytes)).toBe('ok'), { batchBytes: flow.ackBytes });
			let pauses = 0;
			for (let frame = 1; frame <= 2000; frame++) {
				// The gateway sends while running, and up to a few frames more that were read before the pause took effect.
				const inFlight: number[] = [];
				do inFlight.push(1 + ((frame * 7919 + inFlight.length * 104_729) % Math.floor(high / 2)));
				while (!flow.paused && inFlight.length < 3);
				for (const bytes of inFlight) flow.sending('reader', bytes);
				if (flow.paused) {
					pauses++;
					// Paused: the client has at least a batch coming to it, so its next ack is certain.
					expect(flow.unacked('reader')).toBeGreaterThanOrEqual(flow.ackBytes);
				}
				for (const bytes of inFlight) client.rendered(bytes);
				// Everything rendered: what is left unacknowledged is under a batch, and the output runs.
				expect(flow.unacked('reader')).toBe(client.pendingBytes);
				expect(flow.unacked('reader')).toBeLessThan(flow.ackBytes);
				expect(flow.paused, `frame ${frame}, low ${low}`).toBe(false);
			}
			expect(pauses).toBeGreaterThan(0);
			expect(output.log.filter((entry) => entry === 'pause')).toHaveLength(pauses);
		}
	});
});
