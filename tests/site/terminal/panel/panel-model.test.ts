import { describe, expect, it } from 'vitest';
import { attachNotices, initialPanelModel, panelReducer, type PanelEvent, type PanelModel } from '../../../../src/terminal/panel/panel-model.ts';
import type { ConnectionStatus, TerminalRun } from '../../../../src/terminal/connection/connection-types.ts';

const NOW = 1_000_000;

/** A panel with tabs "main" and "logs" after `events`. */
function after(...events: PanelEvent[]): PanelModel {
	const tabs: PanelEvent[] = [{ kind: 'tab-added', tab: 'main' }, { kind: 'tab-added', tab: 'logs' }];
	return [...tabs, ...events].reduce((model, event) => panelReducer(model, event).model, initialPanelModel('main'));
}

const status = (tab: string, status: ConnectionStatus): PanelEvent => ({ kind: 'status', tab, status });
const connected: ConnectionStatus = { state: 'connected' };
const preparing: ConnectionStatus = { state: 'reconnecting', retryInMs: 8_000, cause: 'Preparing', code: 'LAB_ERR_LAB_PREPARING' };
const run: TerminalRun = { code: 'sleep 100', block: 'pods-3', interrupt: false };

describe('panelReducer', () => {
	it('asks the gateway to move the idle limit through the active tab when the reader stays, and forgets the warning', () => {
		const warned = after({ kind: 'activated', tab: 'logs' }, { kind: 'expiry', reason: 'idle', at: NOW + 60_000 });
		expect(panelReducer(warned, { kind: 'status-action', action: 'stay' })).toEqual({ model: { ...warned, expiry: null }, effects: [{ kind: 'extend', tab: 'logs' }] });
	});

	it('forgets an idle warning when the reader types, but not the class’s deadline', () => {
		expect(after({ kind: 'expiry', reason: 'idle', at: NOW + 60_000 }, { kind: 'typed' }).expiry).toBeNull();
		expect(after({ kind: 'expiry', reason: 'deadline', at: NOW + 60_000 }, { kind: 'typed' }).expiry).toEqual({ reason: 'deadline', at: NOW + 60_000 });
	});

	it('keeps the same state for a key that changes nothing, so the panel draws nothing', () => {
		const model = after(status('main', connected));
		expect(panelReducer(model, { kind: 'typed' }).model).toBe(model);
	});

	it('follows the lab’s preparation while a tab waits for it, and stops when none does', () => {
		const first = panelReducer(after(), status('main', preparing));
		expect(first.effects).toEqual([{ kind: 'follow-setup', on: true }]);
		// A second waiting tab changes nothing: the preparation is already followed.
		const second = panelReducer(first.model, status('logs', preparing));
		expect(second.effects).toEqual([]);
		expect(panelReducer(second.model, status('main', connected)).effects).toEqual([]);
		expect(panelReducer(panelReducer(second.model, status('main', connected)).model, status('logs', connected)).effects).toEqual([{ kind: 'follow-setup', on: false }]);
	});

	it('connects the tabs that wait for the lab once it is prepared, not before', () => {
		const waiting = after(status('main', preparing), status('logs', connected));
		const running = { state: 'running', brief: 'Preparing the lab (step 3 of 13, about 1 min left): your command runs as soon as it is ready.' } as const;
		expect(panelReducer(waiting, { kind: 'setup', setup: running }).effects).toEqual([]);
		expect(panelReducer(waiting, { kind: 'setup', setup: { state: 'done', brief: 'The lab is ready: connecting…' } }).effects).toEqual([{ kind: 'connect', tabs: ['main'] }]);
		expect(panelReducer(waiting, { kind: 'setup', setup: null }).effects).toEqual([{ kind: 'connect', tabs: ['main'] }]);
	});

	it('takes the instructor’s typing back at every attach: the gateway says it again if it goes on', () => {
		expect(after({ kind: 'takeover', on: true }).instructorTyping).toBe(true);
		expect(after({ kind: 'takeover', on: true }, { kind: 'attached', tab: 'main', newShell: false, lost: 0 }).instructorTyping).toBe(false);
	});

	it('gives the keyboard to a tab once it is attached, or at once when it already is', () => {
		const asked = panelReducer(after(), { kind: 'focus', tab: 'main' });
		expect(asked.effects).toEqual([]);
		expect(panelReducer(asked.model, { kind: 'attached', tab: 'main', newShell: false, lost: 0 }).effects).toEqual([{ kind: 'focus', tab: 'main' }]);
		expect(panelReducer(after(status('main', connected)), { kind: 'focus', tab: 'main' }).effects).toEqual([{ kind: 'focus', tab: 'main' }]);
	});

	it('says a new shell is in the fresh lab after a reset, and only for a new shell', () => {
		const reset = after({ kind: 'lab', lab: { profile: 'podman', keepsShells: true } }, { kind: 'lab-reset', reset: { phase: 'started' } });
		const fresh = panelReducer(reset, { kind: 'attached', tab: 'main', newShell: true, lost: 0 });
		expect(fresh.effects).toEqual([{ kind: 'screen', tab: 'main', clear: false, notices: ['A shell in your fresh lab.'] }]);
		expect(fresh.model.tabs.main!.resetting).toBe(false);
		// The same shell again (the reset did not happen): nothing to say, and the next shell is not "fresh".
		expect(panelReducer(reset, { kind: 'attached', tab: 'main', newShell: false, lost: 0 }).effects).toEqual([]);
		expect(after({ kind: 'lab-reset', reset: { phase: 'started' } }, status('main', connected)).tabs.main!.resetting).toBe(false);
		expect(after({ kind: 'lab-reset', reset: { phase: 'started' } }, { kind: 'lab-reset', reset: { phase: 'failed', message: 'No.' } }).tabs.logs!.resetting).toBe(false);
	});

	it('marks a tab whose shell the gateway ended for a reset of the lab, from anywhere', () => {
		const ended = after(status('logs', { state: 'reconnecting', retryInMs: 500, cause: 'Your lab was reset.', code: 'LAB_ERR_LAB_RESET' }));
		expect(ended.tabs.logs!.resetting).toBe(true);
		expect(ended.tabs.main!.resetting).toBe(false);
	});

	it('asks about one refused run at a time, and answers it by interrupting or leaving the block', () => {
		const later: TerminalRun = { ...run, block: 'pods-4' };
		const asked = after({ kind: 'run-refused', tab: 'main', run }, { kind: 'run-refused', tab: 'main', run: later });
		expect(asked.busyQuestion).toEqual({ term: 'main', run: later });
		expect(panelReducer(asked, { kind: 'busy-answered', interrupt: true })).toEqual({ model: { ...asked, busyQuestion: null }, effects: [{ kind: 'interrupt', tab: 'main', run: later }] });
		expect(panelReducer(asked, { kind: 'busy-answered', interrupt: false }).effects).toEqual([{ kind: 'leave', run: later }]);
		expect(panelReducer(after(), { kind: 'busy-answered', interrupt: true }).effects).toEqual([]);
	});

	it('drops the question when its terminal’s shell is gone or the panel closes, not for another tab', () => {
		const asked = after({ kind: 'run-refused', tab: 'main', run });
		expect(panelReducer(asked, status('main', { state: 'ended', exitCode: 0 })).model.busyQuestion).toBeNull();
		expect(panelReducer(asked, status('logs', { state: 'ended', exitCode: 0 })).model.busyQuestion).not.toBeNull();
		expect(panelReducer(asked, { kind: 'closed' }).model.busyQuestion).toBeNull();
	});

	it('ignores what a tab it does not know reports', () => {
		const model = after();
		expect(panelReducer(model, status('ghost', connected)).model).toBe(model);
	});
});

describe('attachNotices', () => {
	const attach = { newShell: false, lost: 0, afterReset: false, keepsShells: false };

	it('says nothing when the same shell is there again', () => {
		expect(attachNotices(attach)).toEqual({ clear: false, notices: [] });
	});

	it('keeps the screen of a shell that ended with its lab, and clears the one of a shell that ended unseen', () => {
		expect(attachNotices({ ...attach, newShell: true, afterReset: true, keepsShells: true })).toEqual({ clear: false, notices: ['A shell in your fresh lab.'] });
		expect(attachNotices({ ...attach, newShell: true, keepsShells: true })).toEqual({ clear: false, notices: ['A new shell: the one above has ended.'] });
		expect(attachNotices({ ...attach, newShell: true })).toEqual({ clear: true, notices: ['A new shell: the previous one ended while this page was away.'] });
	});

	it('says how much earlier output is gone', () => {
		expect(attachNotices({ ...attach, lost: 3 * 1024 * 1024 }).notices).toEqual(['3.0 MiB of earlier output are no longer kept.']);
		expect(attachNotices({ ...attach, lost: 2048 }).notices).toEqual(['2 KiB of earlier output are no longer kept.']);
	});
});
