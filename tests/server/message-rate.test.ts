import { expect, it } from 'vitest';
import { MessageRate } from '../../server/message-rate.ts';

it('allows the budget in a second, refuses the next message, and starts afresh a second after the window began', () => {
	let now = 0;
	const rate = new MessageRate(3, () => now);
	expect([rate.take(), rate.take(), rate.take()]).toEqual([true, true, true]);
	now = 999;
	expect(rate.take()).toBe(false);
	now = 1000;
	expect(rate.take()).toBe(true);
	// The new window began at 1000: it too holds three.
	now = 1500;
	expect([rate.take(), rate.take(), rate.take()]).toEqual([true, true, false]);
});
