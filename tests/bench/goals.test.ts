/** The goals as the benchmark checks them: the figures of one run decide, and missing figures are never "met". */
import { describe, expect, it } from 'vitest';
import { KNEE_CASE, evaluateGoals } from '../../bench/lib/goals.ts';
import type { BenchResult } from '../../bench/lib/report.ts';

const echo = (target: string, terminals: number, p99: number): BenchResult => ({
	bench: 'echo',
	target,
	case: `${terminals} terminals`,
	terminals,
	n: terminals * 60,
	p50: p99 / 10,
	p99,
	unit: 'ms',
});

const kneeLine = (value: number | null, lastUnder: number | null): BenchResult => ({
	bench: 'capacity',
	target: 'podlab',
	case: KNEE_CASE,
	n: 5,
	p50: null,
	p99: null,
	unit: 'terminals',
	value,
	lastUnder,
});

function goal(results: BenchResult[], text: string): BenchResult {
	const found = evaluateGoals(results).find((result) => result.case === text);
	if (!found) throw new Error(`no goal "${text}"`);
	return found;
}

const AT_500 = "echo p99 at most 20 ms at 500 terminals, and below wetty's in the same run";
const KNEE = 'echo p99 passes 50 ms at 1000 active terminals or more';

describe('the echo goals', () => {
	it('needs p99 at 500 terminals both under 20 ms and under wetty’s', () => {
		expect(goal([echo('podlab', 500, 9.8), echo('wetty', 500, 16.1)], AT_500)).toMatchObject({ met: true, value: 9.8 });
		expect(goal([echo('podlab', 500, 12), echo('wetty', 500, 10.9)], AT_500).met).toBe(false);
		expect(goal([echo('podlab', 500, 25), echo('wetty', 500, 80)], AT_500).met).toBe(false);
		expect(goal([echo('podlab', 500, 9.8)], AT_500)).toMatchObject({ met: null, why: 'no echo figures at 500 terminals for podlab and wetty' });
	});

	it('counts the knee where p99 passed 50 ms, or the largest step when it never did', () => {
		expect(goal([kneeLine(1000, 750)], KNEE)).toMatchObject({ met: true, value: 1000 });
		expect(goal([kneeLine(750, 500)], KNEE)).toMatchObject({ met: false, value: 750 });
		expect(goal([kneeLine(null, 1000)], KNEE)).toMatchObject({ met: true, value: 1000, measured: 'not passed up to 1000 terminals' });
		expect(goal([kneeLine(null, 3)], KNEE).met).toBe(false); // a --quick ramp
		expect(goal([], KNEE)).toMatchObject({ met: null, why: 'the capacity ramp was not measured' });
	});
});

const flood = (target: string, terminals: number, value: number, extra: Partial<BenchResult> = {}): BenchResult => ({
	bench: 'throughput',
	target,
	case: `${terminals} terminals`,
	terminals,
	n: 3,
	p50: value,
	p99: value,
	unit: 'MB/s',
	value,
	...(target.startsWith('podlab') ? { ack: 'xterm' } : {}),
	...extra,
});

describe('the lab path’s goals', () => {
	const SHARE = 'lab-path throughput, 1 terminal, site acks: at least 80 % of local in the same run';
	const ONE = "throughput, 1 terminal, the lab path: at least wetty's and 95 % of the relay floor";
	const TEN = "throughput, 10 terminals aggregate, local: at least wetty's";
	const ECHO = 'echo p99 on the lab path within 2.5× the network floor at 100 terminals';

	it('compares the lab path with local (site acks) in the same run', () => {
		expect(goal([flood('podlab-lab', 1, 15, { ack: 'site', ofLocal: 0.82 })], SHARE)).toMatchObject({ met: true, value: 82 });
		expect(goal([flood('podlab-lab', 1, 6, { ack: 'site', ofLocal: 0.33 })], SHARE).met).toBe(false);
		expect(goal([flood('podlab-lab', 1, 6, { ack: 'site' })], SHARE).met).toBeNull();
	});

	it('needs one terminal ahead of wetty and at 95 % of the relay floor, ten terminals ahead of wetty', () => {
		expect(goal([flood('podlab-lab', 1, 40), flood('wetty', 1, 39), flood('relay-floor', 1, 41)], ONE)).toMatchObject({ met: true });
		expect(goal([flood('podlab-lab', 1, 40), flood('wetty', 1, 39), flood('relay-floor', 1, 45)], ONE).met).toBe(false);
		expect(goal([flood('podlab-lab', 1, 38), flood('wetty', 1, 39), flood('relay-floor', 1, 38)], ONE).met).toBe(false);
		expect(goal([flood('podlab', 10, 55), flood('wetty', 10, 54)], TEN)).toMatchObject({ met: true });
		expect(goal([flood('podlab', 10, 31.6), flood('wetty', 10, 54)], TEN).met).toBe(false);
		// The site-ack line is not the xterm-ack comparison.
		expect(goal([flood('podlab', 10, 60, { ack: 'site' }), flood('wetty', 10, 54)], TEN).met).toBeNull();
	});

	it('holds a flood in the reader’s page on the lab path to 90 % of local’s, CPU at full speed', () => {
		const PAGE = "a flood in the reader's page, the lab path: at least 90 % of local's in the same run";
		const page = (target: string, value: number, cpuSlowdown = 1): BenchResult => ({ bench: 'browser-flood', target, case: `CPU ${cpuSlowdown}×`, n: 3, p50: value, p99: null, unit: 'MB/s', value, cpuSlowdown });
		expect(goal([page('podlab-lab', 18), page('podlab', 19)], PAGE)).toMatchObject({ met: true });
		expect(goal([page('podlab-lab', 12), page('podlab', 19)], PAGE).met).toBe(false);
		expect(goal([page('podlab-lab', 5, 4), page('podlab', 19)], PAGE).met).toBeNull();
	});

	it('holds lab-path echo at 100 terminals to 2.5× the network floor', () => {
		expect(goal([echo('podlab-lab', 100, 10), echo('network-floor', 100, 5)], ECHO)).toMatchObject({ met: true, value: 2 });
		expect(goal([echo('podlab-lab', 100, 13), echo('network-floor', 100, 5)], ECHO).met).toBe(false);
		// The relay-echo floor is shown beside it, and judged against nothing.
		expect(goal([echo('podlab-lab', 100, 13), echo('network-floor', 100, 5), echo('relay-echo-floor', 100, 12)], ECHO)).toMatchObject({ met: false, measured: '2.6× (13 ms vs 5 ms; the relay-echo floor 2.4×, 12 ms)' });
	});
});

