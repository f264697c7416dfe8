import { describe, expect, it } from 'vitest';
import { RunLedger } from '../../../../src/terminal/connection/run-ledger.ts';
import type { TerminalRun } from '../../../../src/terminal/connection/connection-types.ts';

const run = (block: string, code = `echo ${block}`): TerminalRun => ({ code, block, interrupt: false });

describe('RunLedger', () => {
	it('hands out queued runs in the order they were asked for, a block clicked twice once (the later click)', () => {
		const runs = new RunLedger();
		runs.queue(run('a'));
		runs.queue(run('b'));
		runs.queue(run('a', 'echo again'));
		expect(runs.takeQueued()).toEqual([run('b'), run('a', 'echo again')]);
		expect(runs.takeQueued()).toEqual([]);
	});

	it('keeps a run in flight until its done, and says which results a broken socket lost', () => {
		const runs = new RunLedger();
		runs.sent(run('a'), false);
		runs.sent(run('b'), false);
		expect(runs.settle('a')).toEqual(run('a'));
		expect(runs.settle('a')).toBeUndefined();
		expect(runs.takeInFlight()).toEqual(['b']);
		expect(runs.takeInFlight()).toEqual([]);
	});

	it('queues again, first, what was sent behind an attach the gateway refused: it was never typed', () => {
		const runs = new RunLedger();
		runs.sent(run('a'), true);
		runs.queue(run('b'));
		runs.attachRefused();
		expect(runs.takeInFlight()).toEqual([]);
		expect(runs.takeQueued()).toEqual([run('a'), run('b')]);
	});

	it('counts what was sent behind an answered attach, or on a socket that broke, as typed', () => {
		const answered = new RunLedger();
		answered.sent(run('a'), true);
		answered.attached();
		answered.attachRefused();
		expect(answered.takeQueued()).toEqual([]);
		expect(answered.takeInFlight()).toEqual(['a']);

		const broken = new RunLedger();
		broken.sent(run('a'), true);
		broken.socketGone();
		expect(broken.takeQueued()).toEqual([]);
		expect(broken.takeInFlight()).toEqual(['a']);
	});
});
