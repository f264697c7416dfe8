/** The id range podlab gives Incus, chosen from /etc/subuid text without touching the host's files. */
import { describe, expect, it } from 'vitest';
import { chooseIdRange, ID_RANGE_COUNT, PREFERRED_ID_START } from '../../../lab/incus/daemon.ts';
import { parseIdRanges } from '../../../lab/lib/id-ranges.ts';

describe('chooseIdRange', () => {
	it('takes a billion ids from 1.1 billion on, clear of what Incus’s package gives root', () => {
		const host = parseIdRanges('root:1000000:1000000000\nalice:100000:65536\n');
		expect(chooseIdRange(host, null)).toEqual({ user: 'root', start: PREFERRED_ID_START, count: ID_RANGE_COUNT });
	});

	it('takes the largest free stretch when something on the host is in the way, at 65536 boundaries', () => {
		const range = chooseIdRange(parseIdRanges('root:1000000:1000000000\nbob:1200000000:10\n'), null);
		expect(range.start).toBe(Math.ceil(1_200_000_010 / 65_536) * 65_536);
		expect(range.start + range.count).toBeLessThanOrEqual(2 ** 31);
		expect(range.count % 65_536).toBe(0);
		expect(range.count).toBeGreaterThan(900_000_000);
	});

	it('keeps the range it chose before while nothing overlaps it', () => {
		const previous = { user: 'root', start: 1_050_000_000, count: ID_RANGE_COUNT };
		expect(chooseIdRange([], previous)).toBe(previous);
		const moved = chooseIdRange(parseIdRanges('eve:1500000000:5\n'), previous);
		expect(moved).not.toEqual(previous);
		expect(moved.start + moved.count <= 1_500_000_000 || moved.start >= 1_500_000_005).toBe(true);
	});

	it('refuses when not even 2,000 labs’ ids below 2^31 are free', () => {
		expect(() => chooseIdRange(parseIdRanges('root:1000000:2140000000\n'), null)).toThrow(/no range of 131072000 ids \(2,000 labs\) below 2147483648/);
	});

	it('reads subordinate id files, ignoring comments and junk', () => {
		expect(parseIdRanges('# comment\nroot:1:2\nbad line\n')).toEqual([{ user: 'root', start: 1, count: 2 }]);
	});
});
