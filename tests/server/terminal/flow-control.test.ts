import { describe, expect, it } from 'vitest';
import { FlowControl, VIEWER_MAX_BEHIND_BYTES } from '../../../server/terminal/flow-control.ts';

function valve() {
	const log: string[] = [];
	return { log, pause: () => log.push('pause'), resume: () => log.push('resume') };
}

describe('flow control', () => {
	it('pauses above the high watermark of any reader and resumes once all are under the low one', () => {
		const output = valve();
		const flow = new FlowControl<string>({ highWatermarkBytes: 100, lowWatermarkBytes: 10 }, output);
		flow.add('a', false);
		flow.add('b', false);
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
		flow.add('viewer', true);
		expect(flow.sending('viewer', VIEWER_MAX_BEHIND_BYTES + 1)).toBe(true);
		expect(flow.sending('viewer', 1)).toBe(false);
		expect(output.log).toEqual([]);
	});

	it('refuses an ack of nothing and an ack of more than was sent', () => {
		const flow = new FlowControl<string>({ highWatermarkBytes: 100, lowWatermarkBytes: 10 }, valve());
		flow.add('a', false);
		flow.sending('a', 20);
		expect(flow.ack('a', 0)).toBe('nothing-owed');
		expect(flow.ack('a', 21)).toBe('more-than-owed');
		expect(flow.ack('a', 20)).toBe('ok');
		expect(flow.unacked('a')).toBe(0);
	});

	it('resumes when the reader holding the output back leaves', () => {
		const output = valve();
		const flow = new FlowControl<string>({ highWatermarkBytes: 100, lowWatermarkBytes: 10 }, output);
		flow.add('a', false);
		flow.sending('a', 200);
		flow.remove('a');
		expect(output.log).toEqual(['pause', 'resume']);
	});
});
