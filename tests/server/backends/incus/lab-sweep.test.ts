/** The look over the labs without Incus: labs and what the gateway knows in, actions out. */
import { describe, expect, it } from 'vitest';
import { sweepActions, type SweepState } from '../../../../server/backends/incus/lab-sweep.ts';

const NOW = 1_000_000_000;
const state = (over: Partial<SweepState> = {}): SweepState => ({ gateway: 'gw1', names: new Map(), claimed: new Set(), retainMs: 0, now: NOW, ...over });
const lab = (name: string, owner: string | null, over: { gateway?: string; running?: boolean; lastUsed?: number | null } = {}) => ({
	name,
	owner,
	gateway: over.gateway ?? 'gw1',
	running: over.running ?? true,
	lastUsed: over.lastUsed ?? null,
});

describe('sweepActions', () => {
	it('adopts a lab of this gateway whose reader it does not know (their member was offline at its start)', () => {
		expect(sweepActions([lab('lab-a', 'ann')], state())).toEqual([{ kind: 'adopt', lab: 'lab-a', reader: 'ann' }]);
	});

	it('leaves other gateways’ labs and labs of the warm pool alone', () => {
		expect(sweepActions([lab('lab-a', 'ann', { gateway: 'gw2' }), lab('lab-w', null)], state())).toEqual([]);
	});

	it('leaves the lab a reader has', () => {
		expect(sweepActions([lab('lab-a', 'ann')], state({ names: new Map([['ann', 'lab-a']]), claimed: new Set(['ann']) }))).toEqual([]);
	});

	it('removes the older of two labs of one reader', () => {
		const known = state({ names: new Map([['ann', 'lab-new']]), claimed: new Set(['ann']) });
		expect(sweepActions([lab('lab-old', 'ann'), lab('lab-new', 'ann')], known)).toEqual([{ kind: 'remove-older', lab: 'lab-old', reader: 'ann', current: 'lab-new' }]);
	});

	it('does not adopt a lab of a reader whose lab is being claimed', () => {
		expect(sweepActions([lab('lab-a', 'ann')], state({ claimed: new Set(['ann']) }))).toEqual([]);
	});

	it('adopts the first of two unknown labs of one reader and removes the other', () => {
		expect(sweepActions([lab('lab-a', 'ann'), lab('lab-b', 'ann')], state())).toEqual([
			{ kind: 'adopt', lab: 'lab-a', reader: 'ann' },
			{ kind: 'remove-older', lab: 'lab-b', reader: 'ann', current: 'lab-a' },
		]);
	});

	describe('retention', () => {
		const known = (retainMs: number) => state({ names: new Map([['ann', 'lab-a']]), claimed: new Set(['ann']), retainMs });

		it('removes a stopped lab unused for longer than the retention', () => {
			expect(sweepActions([lab('lab-a', 'ann', { running: false, lastUsed: NOW - 5_000 })], known(4_000))).toEqual([{ kind: 'remove-retained', lab: 'lab-a', reader: 'ann' }]);
		});

		it('keeps a stopped lab within the retention, a running one, and every lab when the retention is 0', () => {
			expect(sweepActions([lab('lab-a', 'ann', { running: false, lastUsed: NOW - 3_000 })], known(4_000))).toEqual([]);
			expect(sweepActions([lab('lab-a', 'ann', { running: true, lastUsed: NOW - 5_000 })], known(4_000))).toEqual([]);
			expect(sweepActions([lab('lab-a', 'ann', { running: false, lastUsed: 0 })], known(0))).toEqual([]);
		});

		it('counts a lab never used as unused since the epoch', () => {
			expect(sweepActions([lab('lab-a', 'ann', { running: false, lastUsed: null })], known(4_000))).toEqual([{ kind: 'remove-retained', lab: 'lab-a', reader: 'ann' }]);
		});

		it('adopts a later lab of a reader whose retained lab it removed', () => {
			const labs = [lab('lab-a', 'ann', { running: false, lastUsed: 0 }), lab('lab-b', 'ann')];
			expect(sweepActions(labs, known(4_000))).toEqual([
				{ kind: 'remove-retained', lab: 'lab-a', reader: 'ann' },
				{ kind: 'adopt', lab: 'lab-b', reader: 'ann' },
			]);
		});
	});

	it('does not change the state it was given', () => {
		const names = new Map<string, string>();
		const claimed = new Set<string>();
		sweepActions([lab('lab-a', 'ann')], state({ names, claimed }));
		expect([names.size, claimed.size]).toEqual([0, 0]);
	});
});
