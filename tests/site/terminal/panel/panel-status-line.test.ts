import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../../../src/protocol-values.ts';
import { initialPanelModel, panelReducer, type PanelEvent, type PanelModel } from '../../../../src/terminal/panel/panel-model.ts';
import { statusLine } from '../../../../src/terminal/panel/panel-status-line.ts';
import type { ConnectionStatus } from '../../../../src/terminal/connection/connection-types.ts';

const NOW = 1_000_000;
const clock = (at: number) => `T+${(at - NOW) / 60_000}min`;

/** A panel with one tab, "main", in the podman lab, after `events`. */
function after(...events: PanelEvent[]): PanelModel {
	const start: PanelEvent[] = [{ kind: 'tab-added', tab: 'main' }, { kind: 'lab', lab: { profile: 'podman', keepsShells: true } }];
	return [...start, ...events].reduce((model, event) => panelReducer(model, event).model, initialPanelModel('main'));
}

const INITIAL_PANEL_MODEL = after();

function line(model: PanelModel, status: ConnectionStatus, lab: string | null = 'podman') {
	const withStatus = panelReducer(model, { kind: 'status', tab: 'main', status }).model;
	return statusLine({ ...withStatus, lab: lab === null ? null : { profile: lab, keepsShells: true } }, NOW, clock)!;
}

const connected: ConnectionStatus = { state: 'connected' };

describe('statusLine', () => {
	it('says where the reader is connected, and the lab when it is known', () => {
		expect(line(INITIAL_PANEL_MODEL, connected)).toEqual({ text: 'Connected to the podman lab.', action: null });
		expect(line(INITIAL_PANEL_MODEL, { state: 'connecting' }, null).text).toBe('Connecting to the lab…');
	});

	it('offers the one action that helps', () => {
		expect(line(INITIAL_PANEL_MODEL, { state: 'reconnecting', retryInMs: 2_400, cause: 'The connection dropped' })).toEqual({
			text: 'The connection dropped — reconnecting in 2 s…',
			action: { kind: 'retry', label: 'Reconnect now' },
		});
		expect(line(INITIAL_PANEL_MODEL, { state: 'offline', retryInMs: 10_000 }).action).toEqual({ kind: 'retry', label: 'Try now' });
		expect(line(INITIAL_PANEL_MODEL, { state: 'ended', exitCode: 2 })).toEqual({
			text: 'Session ended: the shell in “main” exited with status 2.',
			action: { kind: 'restart', label: 'Start a new shell' },
		});
		expect(line(INITIAL_PANEL_MODEL, { state: 'ended', exitCode: null, reason: 'The class is over.' }).text).toBe('The class is over.');
		expect(line(INITIAL_PANEL_MODEL, { state: 'failed', code: 'refused', message: 'Refused.' })).toEqual({ text: 'Refused.', action: { kind: 'restart', label: 'Try again' } });
		expect(line(INITIAL_PANEL_MODEL, { state: 'closed' })).toEqual({ text: '', action: null });
	});

	it('warns before the shells close, with Stay for the idle limit only', () => {
		const idle = after({ kind: 'expiry', reason: 'idle', at: NOW + 120_000 });
		expect(line(idle, connected)).toEqual({ text: 'No activity for a while: your shells close at T+2min.', action: { kind: 'stay', label: 'Stay' } });
		const deadline = after({ kind: 'expiry', reason: 'deadline', at: NOW + 120_000 });
		expect(line(deadline, connected)).toEqual({ text: 'The class ends at T+2min: your shells close then.', action: null });
		// A warning whose time has passed says nothing any more.
		expect(line(after({ kind: 'expiry', reason: 'idle', at: NOW - 1 }), connected).text).toBe('Connected to the podman lab.');
	});

	it('says where the lab’s preparation stands while a Run waits for it', () => {
		const waiting: ConnectionStatus = { state: 'reconnecting', retryInMs: 8_000, cause: ERRORS.LAB_ERR_LAB_PREPARING.text, code: 'LAB_ERR_LAB_PREPARING' };
		expect(line(INITIAL_PANEL_MODEL, waiting)).toEqual({ text: ERRORS.LAB_ERR_LAB_PREPARING.text, action: null });
		const setup = { state: 'running', brief: 'Preparing the lab (step 6 of 13, about 2 min left): your command runs as soon as it is ready.' } as const;
		expect(line(after({ kind: 'setup', setup }), waiting).text).toBe(setup.brief);
	});

	it('puts the instructor’s voice before the connection, and the reader’s own reset before everything', () => {
		const told = after({ kind: 'notice', text: 'Break until 11:00' });
		expect(line(told, { state: 'reconnecting', retryInMs: 1_000, cause: 'The connection dropped' })).toEqual({
			text: 'Message from your instructor: Break until 11:00',
			action: { kind: 'dismiss-notice', label: 'Dismiss' },
		});
		expect(line(after({ kind: 'notice', text: 'x' }, { kind: 'status-action', action: 'dismiss-notice' }), connected).text).toBe('Connected to the podman lab.');
		expect(line(after({ kind: 'takeover', on: true }), connected)).toEqual({ text: 'Your instructor is typing in this terminal.', action: null });
		expect(line(after({ kind: 'notice', text: 'x' }, { kind: 'lab-reset', reset: { phase: 'started' } }), connected)).toEqual({ text: 'Resetting your lab…', action: null });
		const failed = after({ kind: 'lab-reset', reset: { phase: 'failed', message: 'Not now.' } });
		expect(line(failed, connected)).toEqual({ text: 'Not now.', action: { kind: 'dismiss-reset', label: 'Dismiss' } });
	});

	it('says a reset is done in the words of the connection that follows it', () => {
		const reset = after({ kind: 'lab-reset', reset: { phase: 'done', lab: 'lab-1', ms: 27 } });
		expect(line(reset, { state: 'reconnecting', retryInMs: 500, cause: 'The lab is restarting' }).text).toBe('Your lab was reset in 27 ms: connecting to the fresh one…');
		expect(line(reset, connected).text).toBe('Connected to a fresh lab (reset in 27 ms).');
	});

	it('says nothing before the panel has a tab', () => {
		expect(statusLine(initialPanelModel('main'), NOW, clock)).toBeNull();
	});
});
