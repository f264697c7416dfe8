import { describe, expect, it } from 'vitest';
import type { RosterStudent } from '../../../src/class-protocol.ts';
import { describeLab, formatMiB, StudentLabs } from '../../../src/instructor/student-labs.ts';

function student(id: string, lab?: RosterStudent['lab']): RosterStudent {
	return {
		id,
		name: id,
		joinedAt: '2026-11-26T09:00:00.000Z',
		lastActivity: '2026-11-26T09:00:00.000Z',
		lastRun: null,
		labHost: null,
		...(lab === undefined ? {} : { lab }),
		page: null,
		connected: true,
		terminals: [],
	};
}

const running = { name: 'lab-3f0a91c2', state: 'running' as const, memoryBytes: 82 * 1024 * 1024 };

describe('the students’ labs on the roster', () => {
	it('lays the labs of the last roster that had them over the feed’s rosters, which have none', () => {
		const labs = new StudentLabs();
		labs.note([student('s1', running), student('s2', null)]);
		labs.note([student('s1'), student('s2'), student('s3')]);
		expect(labs.merge([student('s1'), student('s2'), student('s3')]).map((entry) => entry.lab)).toEqual([running, null, undefined]);
	});

	it('prefers a roster’s own lab to an older one, and forgets students who left', () => {
		const labs = new StudentLabs();
		labs.note([student('s1', running)]);
		const fresh = { ...running, name: 'lab-7b2e4d10' };
		expect(labs.merge([student('s1', fresh)])[0]!.lab).toEqual(fresh);
		labs.keepOnly(new Set(['s2']));
		expect(labs.merge([student('s1')])[0]!.lab).toBeUndefined();
	});

	it('words the lab and its memory in MiB', () => {
		expect(formatMiB(9.4 * 1024 * 1024)).toBe('9.4 MiB');
		expect(formatMiB(82.4 * 1024 * 1024)).toBe('82 MiB');
		expect(describeLab(running)).toEqual({ lab: 'lab-3f0a91c2 · running', memory: '82 MiB' });
		expect(describeLab({ ...running, state: 'stopped', memoryBytes: null })).toEqual({ lab: 'lab-3f0a91c2 · stopped', memory: '—' });
		expect(describeLab(null)).toEqual({ lab: 'none yet', memory: '—' });
	});
});
