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
