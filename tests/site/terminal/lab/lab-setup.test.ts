import { describe, expect, it } from 'vitest';
import { describeSetup, describeSetupBriefly, duration, setupOf } from '../../../../src/terminal/lab/lab-setup.ts';

const running = { state: 'running', step: { number: 9, total: 13, title: 'Labs: an id range of Incus’s own' }, elapsedMs: 83_000, remainingMs: 95_000 } as const;

describe('setupOf', () => {
	it('takes the setup of an answer of GET /api/lab', () => {
		expect(setupOf({ backend: 'incus', setup: running })).toEqual(running);
		expect(setupOf({ backend: 'incus', setup: { ...running, step: null, remainingMs: null } })).toMatchObject({ step: null });
	});

	it('is null for an answer without one, or with one this page does not understand', () => {
		for (const body of [null, 'text', {}, { setup: null }, { setup: { ...running, state: 'halfway' } }, { setup: { ...running, elapsedMs: '83 s' } }, { setup: { ...running, step: { number: 9 } } }]) {
			expect(setupOf(body), JSON.stringify(body)).toBeNull();
		}
	});
});

describe('describeSetup', () => {
	it('says the step, the time so far and about how long is left', () => {
		expect(describeSetup(running)).toBe('Preparing the lab on this machine (the first start): step 9 of 13, an id range of Incus’s own — 1 min 23 s so far, about 2 min left.');
		expect(describeSetup({ ...running, remainingMs: 8_000 })).toMatch(/a few seconds left\.$/);
		expect(describeSetup({ ...running, remainingMs: 42_000 })).toMatch(/about 40 s left\.$/);
		expect(describeSetup({ ...running, step: null, elapsedMs: 1_000 })).toBe('Preparing the lab on this machine (the first start): starting — 1 s so far, about 2 min left.');
	});

	it('says when it is done, and what to do when it failed', () => {
		expect(describeSetup({ ...running, state: 'done', remainingMs: null, elapsedMs: 151_000 })).toBe('The lab is ready: it was prepared in 2 min 31 s.');
		expect(describeSetup({ ...running, state: 'failed', remainingMs: null })).toBe(
			'Preparing the lab failed (step 9 of 13, an id range of Incus’s own). On the lab machine, `sudo npm run lab:setup` tries again and shows why.',
		);
	});
});

describe('describeSetupBriefly', () => {
	it('fits the panel’s status line: the step and the time left, and that the command waits', () => {
		expect(describeSetupBriefly(running)).toBe('Preparing the lab (step 9 of 13, about 2 min left): your command runs as soon as it is ready.');
		expect(describeSetupBriefly({ ...running, state: 'done', remainingMs: null })).toBe('The lab is ready: connecting…');
	});
});

describe('duration', () => {
	it('reads as a person says it', () => {
		expect([400, 59_400, 60_000, 125_000].map(duration)).toEqual(['0 s', '59 s', '1 min', '2 min 5 s']);
	});
});
