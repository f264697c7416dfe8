import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { EventLoopLoad, RELAXED_BELOW, SATURATED_ABOVE, WINDOW_MS, type LoopTimes } from '../../../server/terminal/event-loop-load.ts';

/** A loop whose busy and idle milliseconds the test adds by hand, on a clock it moves by hand. */
function scriptedLoop() {
	const times: LoopTimes = { active: 0, idle: 0 };
	let now = 0;
	let samples = 0;
	const load = new EventLoopLoad({
		sample: () => {
			samples++;
			return { ...times };
		},
		now: () => now,
	});
	/** One window of `ms` with `share` of it busy. */
	const window = (share: number, ms = WINDOW_MS) => {
		times.active += share * ms;
		times.idle += (1 - share) * ms;
		now += ms;
	};
	return { load, window, samples: () => samples };
}

describe('the event loop load', () => {
	it('is saturated above SATURATED_ABOVE and stays so until the share drops below RELAXED_BELOW', () => {
		const { load, window } = scriptedLoop();
		expect(load.saturated).toBe(false);
		window(SATURATED_ABOVE - 0.05);
		expect(load.saturated).toBe(false);
		window(SATURATED_ABOVE + 0.05);
		expect(load.saturated).toBe(true);
		window(RELAXED_BELOW + 0.05);
		expect(load.saturated).toBe(true);
		window(RELAXED_BELOW - 0.05);
		expect(load.saturated).toBe(false);
		window(RELAXED_BELOW + 0.05);
		expect(load.saturated).toBe(false);
	});

	it('samples the loop at most once per window', () => {
		const { load, window, samples } = scriptedLoop();
		const before = samples();
		window(1, WINDOW_MS / 4);
		for (let read = 0; read < 100; read++) expect(load.saturated).toBe(false);
		expect(samples()).toBe(before);
		window(1, WINDOW_MS);
		expect(load.saturated).toBe(true);
		expect(samples()).toBe(before + 1);
	});

	it('averages over the whole time since the last sample: a burst after an idle spell is not saturation', () => {
		const { load, window } = scriptedLoop();
		window(0, 10 * WINDOW_MS);
		window(1, WINDOW_MS);
		expect(load.saturated).toBe(false);
		window(1, WINDOW_MS);
		expect(load.saturated).toBe(true);
	});

	it("reads this process's own event loop: busy while blocked, idle while waiting", async () => {
		const load = new EventLoopLoad();
		const until = performance.now() + 2 * WINDOW_MS;
		while (performance.now() < until);
		expect(load.saturated).toBe(true);
		await sleep(3 * WINDOW_MS);
		expect(load.saturated).toBe(false);
	});
});
