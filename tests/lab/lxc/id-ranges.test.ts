/** Root's subordinate id ranges for the labs, planned from /etc/subuid text without touching the host's. */
import { describe, expect, it } from 'vitest';
import { IDS_PER_LAB, ID_RANGE_START, LAB_SLOTS, parseIdRanges, planIdRanges, slotIdStart } from '../../../lab/lxc/id-ranges.ts';

const line = `root:${ID_RANGE_START}:${LAB_SLOTS * IDS_PER_LAB}`;

describe('planIdRanges', () => {
	it('appends root’s range to an empty file or one without it', () => {
		expect(planIdRanges('')).toEqual({ action: 'append', line });
		expect(planIdRanges('alice:100000:65536\n')).toEqual({ action: 'append', line });
	});
	it('does nothing when root already has a range covering it (a second run)', () => {
		expect(planIdRanges(`${line}\n`)).toEqual({ action: 'none' });
		expect(planIdRanges(`root:0:4294967295\n`)).toEqual({ action: 'none' });
	});
	it('refuses to overlap another user’s range', () => {
		expect(planIdRanges(`bob:${ID_RANGE_START + 5}:10\n`)).toEqual({ action: 'conflict', with: { user: 'bob', start: ID_RANGE_START + 5, count: 10 } });
	});
	it('ignores comments and junk lines', () => {
		expect(parseIdRanges('# comment\nroot:1:2\nbad line\n')).toEqual([{ user: 'root', start: 1, count: 2 }]);
	});
});

describe('slotIdStart', () => {
	it('gives every slot a range of its own', () => {
		expect(slotIdStart(0)).toBe(ID_RANGE_START);
		expect(slotIdStart(3) - slotIdStart(2)).toBe(IDS_PER_LAB);
		expect(() => slotIdStart(LAB_SLOTS)).toThrow(/outside/);
	});
});
