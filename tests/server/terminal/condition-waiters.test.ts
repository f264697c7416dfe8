import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConditionWaiters } from '../../../server/terminal/condition-waiters.ts';

beforeEach(() => {
	vi.useFakeTimers();
});
afterEach(() => {
	vi.useRealTimers();
});

describe('ConditionWaiters', () => {
	it('resolves at once when the condition holds already', async () => {
		const waiters = new ConditionWaiters(() => false);
		expect(await waiters.waitFor(() => true, 1_000)).toBe(true);
	});

	it('resolves true at the first check after the condition comes to hold, not before', async () => {
		const waiters = new ConditionWaiters(() => false);
		let prompt = false;
		let settled: boolean | null = null;
		void waiters.waitFor(() => prompt, 1_000).then((result) => (settled = result));
		prompt = true;
		await Promise.resolve();
		expect(settled).toBeNull();
		waiters.check();
		await Promise.resolve();
		expect(settled).toBe(true);
	});

	it('resolves false after the timeout, and once stopped', async () => {
		let stopped = false;
		const waiters = new ConditionWaiters(() => stopped);
		const timedOut = waiters.waitFor(() => false, 1_000);
		vi.advanceTimersByTime(1_000);
		expect(await timedOut).toBe(false);
		const ended = waiters.waitFor(() => false, 1_000);
		stopped = true;
		waiters.check();
		expect(await ended).toBe(false);
	});
});
