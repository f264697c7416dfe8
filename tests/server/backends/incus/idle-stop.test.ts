/** The idle stop with fake timers: terminals opened and ended in, labs recorded as used and stopped out. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdleStop } from '../../../../server/backends/incus/idle-stop.ts';

const IDLE_MS = 10_000;

function idleStop(labs: Record<string, string> = { ann: 'lab-a' }) {
	const stopped: string[] = [];
	const used: Array<[string, number]> = [];
	const idle = new IdleStop({ idleStopMs: IDLE_MS, labOf: (reader) => labs[reader], lastUsed: (lab, at) => used.push([lab, at]), stop: (lab) => stopped.push(lab) });
	return { idle, stopped, used };
}

beforeEach(() => {
	vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
	vi.useRealTimers();
});

describe('IdleStop', () => {
	it('stops the lab once its reader has had no terminal for the idle time', () => {
		const { idle, stopped } = idleStop();
		idle.opened('ann');
		idle.ended('ann');
		vi.advanceTimersByTime(IDLE_MS - 1);
		expect(stopped).toEqual([]);
		vi.advanceTimersByTime(1);
		expect(stopped).toEqual(['lab-a']);
	});

	it('records when the last terminal ended', () => {
		const { idle, used } = idleStop();
		idle.opened('ann');
		idle.opened('ann');
		idle.ended('ann');
		expect(used).toEqual([]);
		vi.advanceTimersByTime(500);
		idle.ended('ann');
		expect(used).toEqual([['lab-a', 1_000_500]]);
	});

	it('does not stop a lab while a terminal is open', () => {
		const { idle, stopped } = idleStop();
		idle.opened('ann');
		idle.opened('ann');
		idle.ended('ann');
		vi.advanceTimersByTime(IDLE_MS * 3);
		expect(stopped).toEqual([]);
	});

	it('starts the idle time again when a new terminal comes and goes', () => {
		const { idle, stopped } = idleStop();
		idle.ended('ann');
		vi.advanceTimersByTime(IDLE_MS - 100);
		idle.opened('ann');
		idle.ended('ann');
		vi.advanceTimersByTime(IDLE_MS - 100);
		expect(stopped).toEqual([]);
		vi.advanceTimersByTime(100);
		expect(stopped).toEqual(['lab-a']);
	});

	it('never counts below zero terminals', () => {
		const { idle, stopped } = idleStop();
		idle.ended('ann');
		idle.ended('ann');
		idle.opened('ann');
		vi.advanceTimersByTime(IDLE_MS * 2);
		expect(stopped).toEqual([]);
	});

	it('counts an armed idle time from the given moment (a lab found at startup)', () => {
		const { idle, stopped } = idleStop();
		idle.arm('ann', Date.now() - IDLE_MS + 1_000);
		vi.advanceTimersByTime(999);
		expect(stopped).toEqual([]);
		vi.advanceTimersByTime(1);
		expect(stopped).toEqual(['lab-a']);
	});

	it('stops at once a lab idle for longer than the idle time, and counts from now without a moment', () => {
		const { idle, stopped } = idleStop({ ann: 'lab-a', bob: 'lab-b' });
		idle.arm('ann', Date.now() - IDLE_MS * 5);
		idle.arm('bob', null);
		vi.advanceTimersByTime(0);
		expect(stopped).toEqual(['lab-a']);
		vi.advanceTimersByTime(IDLE_MS);
		expect(stopped).toEqual(['lab-a', 'lab-b']);
	});

	it('stops nothing for a reader without a lab', () => {
		const { idle, stopped, used } = idleStop({});
		idle.ended('ann');
		vi.advanceTimersByTime(IDLE_MS);
		expect([stopped, used]).toEqual([[], []]);
	});

	it('stops nothing once cancelled or closed', () => {
		const { idle, stopped } = idleStop({ ann: 'lab-a', bob: 'lab-b' });
		idle.ended('ann');
		idle.ended('bob');
		idle.cancel('ann');
		idle.close();
		vi.advanceTimersByTime(IDLE_MS * 2);
		expect(stopped).toEqual([]);
	});
});
