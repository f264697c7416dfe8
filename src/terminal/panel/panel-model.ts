/**
 * The terminal panel's state, pure: its tabs' connections as they last reported, which tab is
 * active, the question about a refused run, the instructor's message and typing, the end of the
 * shells (idle limit, class deadline), the reader's lab reset and the lab's preparation.
 * {@link panelReducer} takes an event and returns the next state and what the panel must do about
 * it, like the gateway's shell-state.ts; the status line is a function of that state
 * (panel-status-line.ts). No DOM: panel-controller.ts is the glue.
 */
import type { LabResetEvent } from '../lab/lab-reset-event.ts';
import type { ConnectionStatus, TerminalRun } from '../connection/connection-types.ts';

export interface TabModel {
	status: ConnectionStatus;
	/** Running a command (the gateway's `status`). */
	busy: boolean;
	/**
	 * The tab's next shell is in a fresh lab: it keeps its screen, which ends with the gateway's line
	 * about the reset, instead of being cleared as for a shell that ended while the page was away.
	 */
	resetting: boolean;
}

export interface PanelModel {
	tabs: Readonly<Record<string, TabModel>>;
	active: string;
	/** What the gateway said the lab is, once it answered. */
	lab: { profile: string | null; keepsShells: boolean } | null;
	/** The terminal that gets the keyboard as soon as it is attached: keys before that have no shell to go to. */
	focusOnAttach: string | null;
	/** The gateway refused `run` in `term`, busy: interrupt it, or leave the block? One question at a time. */
	busyQuestion: { term: string; run: TerminalRun } | null;
	/** Class mode: the instructor's latest message, until the reader dismisses it. */
	notice: string | null;
	/** Class mode: the instructor is typing into one of this reader's terminals. */
	instructorTyping: boolean;
	/** Class mode: the gateway ends this reader's shells at `at` unless they stay (idle) or the class ends. */
	expiry: { reason: 'idle' | 'deadline'; at: number } | null;
	/** The reader's latest lab reset, from the panel or another button of the page. */
	labReset: LabResetEvent | null;
	/** While a tab waits for the lab to be prepared: where the preparation stands, and that in words (lab-setup.ts). */
	setup: LabSetupNews | null;
}

/** The preparation of the lab as the panel needs it (LabSetupWatch, loaded only while a Run waits for it, words it). */
export interface LabSetupNews {
	state: 'running' | 'done' | 'failed';
	/** One sentence for the status line. */
	brief: string;
}

export const initialPanelModel = (active: string): PanelModel => ({
	tabs: {},
	active,
	lab: null,
	focusOnAttach: null,
	busyQuestion: null,
	notice: null,
	instructorTyping: false,
	expiry: null,
	labReset: null,
	setup: null,
});

export type PanelEvent =
	| { kind: 'tab-added'; tab: string }
	| { kind: 'activated'; tab: string }
	| { kind: 'status'; tab: string; status: ConnectionStatus }
	| { kind: 'busy'; tab: string; busy: boolean }
	/** A tab's socket attached; the gateway says again if the instructor is still typing. */
	| { kind: 'attached'; tab: string; newShell: boolean; lost: number }
	/** The keyboard should go into `tab`, now or once it is attached. */
	| { kind: 'focus'; tab: string }
	| { kind: 'lab'; lab: { profile: string | null; keepsShells: boolean } | null }
	| { kind: 'run-refused'; tab: string; run: TerminalRun }
	| { kind: 'busy-answered'; interrupt: boolean }
	/** The reader closed the panel: a question about a run is not answered, the block keeps saying it was refused. */
	| { kind: 'closed' }
	| { kind: 'notice'; text: string }
	| { kind: 'takeover'; on: boolean }
	| { kind: 'expiry'; reason: 'idle' | 'deadline'; at: number }
	/** The reader typed: activity, so the idle warning is void. */
	| { kind: 'typed' }
	| { kind: 'lab-reset'; reset: LabResetEvent }
	| { kind: 'setup'; setup: LabSetupNews | null }
	/** The reader pressed the status line's button (panel-status-line.ts). */
	| { kind: 'status-action'; action: StatusAction };

/** What the status line's one button does: Stay (the idle limit), reconnect now, start a new shell, dismiss. */
export type StatusAction = 'stay' | 'retry' | 'restart' | 'dismiss-notice' | 'dismiss-reset';

export type PanelEffect =
	/** Ask the gateway to move the idle limit (through `tab`'s socket). */
	| { kind: 'extend'; tab: string }
	/** `tab` tries to connect now, or starts a new shell (its old one ended). */
	| { kind: 'retry' | 'restart'; tab: string }
	/** These tabs connect now rather than at their next retry (the lab they waited for is ready). */
	| { kind: 'connect'; tabs: string[] }
	/** Write on `tab`'s screen, after clearing it if `clear`. */
	| { kind: 'screen'; tab: string; clear: boolean; notices: string[] }
	| { kind: 'focus'; tab: string }
	/** Follow the lab's preparation (some tab waits for it), or stop. */
	| { kind: 'follow-setup'; on: boolean }
	/** Run again in `tab`, interrupting what runs there. */
	| { kind: 'interrupt'; tab: string; run: TerminalRun }
	/** The reader left a refused run alone. */
	| { kind: 'leave'; run: TerminalRun };

type Result = { model: PanelModel; effects: PanelEffect[] };

export function panelReducer(model: PanelModel, event: PanelEvent): Result {
	const next = (changes: Partial<PanelModel>, effects: PanelEffect[] = []): Result => ({ model: { ...model, ...changes }, effects });
	const unchanged: Result = { model, effects: [] };
	const withTab = (tab: string, changes: Partial<TabModel>) => ({ ...model.tabs, [tab]: { ...model.tabs[tab]!, ...changes } });
	switch (event.kind) {
		case 'tab-added':
			return next({ tabs: { ...model.tabs, [event.tab]: { status: { state: 'closed' }, busy: false, resetting: false } } });
		case 'activated':
			return next({ active: event.tab });
		case 'status':
			return onStatus(model, event.tab, event.status);
		case 'busy':
			return next({ tabs: withTab(event.tab, { busy: event.busy }) });
		case 'attached': {
			const tab = model.tabs[event.tab];
			// Only a new shell is in the fresh lab: a tab that reattached to its old one was not reset.
			const afterReset = event.newShell && tab?.resetting === true;
			const { clear, notices } = attachNotices({ newShell: event.newShell, lost: event.lost, afterReset, keepsShells: model.lab?.keepsShells === true });
			const effects: PanelEffect[] = clear || notices.length > 0 ? [{ kind: 'screen', tab: event.tab, clear, notices }] : [];
			if (model.focusOnAttach === event.tab) effects.push({ kind: 'focus', tab: event.tab });
			return next(
				{
					tabs: afterReset ? withTab(event.tab, { resetting: false }) : model.tabs,
					instructorTyping: false,
					focusOnAttach: model.focusOnAttach === event.tab ? null : model.focusOnAttach,
				},
				effects,
			);
		}
		case 'focus':
			return model.tabs[event.tab]?.status.state === 'connected' ? next({}, [{ kind: 'focus', tab: event.tab }]) : next({ focusOnAttach: event.tab });
		case 'lab':
			return next({ lab: event.lab });
		case 'run-refused':
			return next({ busyQuestion: { term: event.tab, run: event.run } });
		case 'busy-answered': {
			const question = model.busyQuestion;
			if (!question) return unchanged;
			return next({ busyQuestion: null }, [event.interrupt ? { kind: 'interrupt', tab: question.term, run: question.run } : { kind: 'leave', run: question.run }]);
		}
		case 'closed':
			return next({ busyQuestion: null });
		case 'notice':
			return next({ notice: event.text });
		case 'takeover':
			return next({ instructorTyping: event.on });
		case 'expiry':
			return next({ expiry: { reason: event.reason, at: event.at } });
		case 'typed':
			return model.expiry?.reason === 'idle' ? next({ expiry: null }) : unchanged;
		case 'lab-reset': {
			// Every shell of the reader ends with the old lab; a failed reset ends none.
			const phase = event.reset.phase;
			const resetting = phase === 'started' ? true : phase === 'failed' ? false : null;
			const tabs = resetting === null ? model.tabs : Object.fromEntries(Object.entries(model.tabs).map(([name, tab]) => [name, { ...tab, resetting }]));
			return next({ labReset: event.reset, tabs });
		}
		case 'setup':
			// The lab is ready (or no longer being prepared): the tabs waiting for it connect now.
			return next({ setup: event.setup }, event.setup?.state === 'running' ? [] : [{ kind: 'connect', tabs: waitingForLab(model.tabs) }]);
		case 'status-action':
			switch (event.action) {
				case 'stay':
					return next({ expiry: null }, [{ kind: 'extend', tab: model.active }]);
				case 'retry':
				case 'restart':
					return next({}, [{ kind: event.action, tab: model.active }]);
				case 'dismiss-notice':
					return next({ notice: null });
				case 'dismiss-reset':
					return next({ labReset: null });
			}
	}
}

function onStatus(model: PanelModel, name: string, status: ConnectionStatus): Result {
	const tab = model.tabs[name];
	if (!tab) return { model, effects: [] };
	// Attached again (to the same shell, if the reset never happened): the next new shell is cleared as
	// usual. A reset from anywhere (this page, another one, the instructor): the next shell is in the fresh lab.
	const resetting = status.state === 'connected' ? false : status.state === 'reconnecting' && status.code === 'LAB_ERR_LAB_RESET' ? true : tab.resetting;
	const tabs = { ...model.tabs, [name]: { ...tab, status, resetting } };
	// A question about a terminal whose shell is gone has no answer any more.
	const gone = status.state === 'ended' || status.state === 'failed';
	const busyQuestion = gone && model.busyQuestion?.term === name ? null : model.busyQuestion;
	const following = waitingForLab(model.tabs).length > 0;
	const waiting = waitingForLab(tabs).length > 0;
	return { model: { ...model, tabs, busyQuestion }, effects: waiting !== following ? [{ kind: 'follow-setup', on: waiting }] : [] };
}

/** Tabs whose lab is being prepared: they wait, and try again once it is ready. */
export function waitingForLab(tabs: PanelModel['tabs']): string[] {
	return Object.keys(tabs).filter((name) => {
		const { status } = tabs[name]!;
		return status.state === 'reconnecting' && status.code === 'LAB_ERR_LAB_PREPARING';
	});
}

/** What a tab's screen shows when its socket attaches: whether to clear it first, and the notices to write. */
export interface AttachNotices {
	clear: boolean;
	notices: string[];
}

/**
 * The notices of an attach: a new shell (in a fresh lab after a reset; after one that ended with its
 * lab, the screen keeps the gateway's last line, which says what happened; else the old screen goes)
 * and output the gateway no longer kept.
 */
export function attachNotices(attach: { newShell: boolean; lost: number; afterReset: boolean; keepsShells: boolean }): AttachNotices {
	const notices: string[] = [];
	let clear = false;
	if (attach.newShell && attach.afterReset) notices.push('A shell in your fresh lab.');
	else if (attach.newShell && attach.keepsShells) notices.push('A new shell: the one above has ended.');
	else if (attach.newShell) {
		clear = true;
		notices.push('A new shell: the previous one ended while this page was away.');
	}
	if (attach.lost > 0) notices.push(`${describeBytes(attach.lost)} of earlier output are no longer kept.`);
	return { clear, notices };
}

function describeBytes(bytes: number): string {
	if (bytes < 1024) return `${bytes} bytes`;
	if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KiB`;
	return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
