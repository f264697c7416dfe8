/**
 * What the terminal panel says besides the terminals themselves, as pure state: the instructor's
 * message and typing, the end of the shells (idle limit, class deadline), the reader's lab reset and
 * the preparation of the lab. {@link panelReducer} takes an event and returns the next state and what
 * the panel must do about it; {@link statusLine} is the status line as a function of that state and
 * the active tab's connection. No DOM: panel-controller.ts is the glue.
 */
import type { LabResetEvent } from './lab-reset-event.ts';
import type { ConnectionStatus } from './terminal-connection.ts';

export interface PanelModel {
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

export const INITIAL_PANEL_MODEL: PanelModel = { notice: null, instructorTyping: false, expiry: null, labReset: null, setup: null };

export type PanelEvent =
	| { kind: 'notice'; text: string }
	| { kind: 'notice-dismissed' }
	| { kind: 'takeover'; on: boolean }
	/** A tab attached: the gateway says again if the instructor is still typing. */
	| { kind: 'attached' }
	| { kind: 'expiry'; reason: 'idle' | 'deadline'; at: number }
	/** The reader pressed Stay. */
	| { kind: 'stay' }
	/** The reader typed: activity, so the idle warning is void. */
	| { kind: 'typed' }
	| { kind: 'lab-reset'; reset: LabResetEvent }
	| { kind: 'lab-reset-dismissed' }
	| { kind: 'setup'; setup: LabSetupNews | null };

export type PanelEffect =
	/** Ask the gateway to move the idle limit. */
	| { kind: 'extend' }
	/** The lab is ready (or no longer being prepared): tabs waiting for it connect now. */
	| { kind: 'connect-waiting' };

export function panelReducer(model: PanelModel, event: PanelEvent): { model: PanelModel; effects: PanelEffect[] } {
	const next = (changes: Partial<PanelModel>, effects: PanelEffect[] = []) => ({ model: { ...model, ...changes }, effects });
	switch (event.kind) {
		case 'notice':
			return next({ notice: event.text });
		case 'notice-dismissed':
			return next({ notice: null });
		case 'takeover':
			return next({ instructorTyping: event.on });
		case 'attached':
			return next({ instructorTyping: false });
		case 'expiry':
			return next({ expiry: { reason: event.reason, at: event.at } });
		case 'stay':
			return next({ expiry: null }, [{ kind: 'extend' }]);
		case 'typed':
			return model.expiry?.reason === 'idle' ? next({ expiry: null }) : { model, effects: [] };
		case 'lab-reset':
			return next({ labReset: event.reset });
		case 'lab-reset-dismissed':
			return next({ labReset: null });
		case 'setup':
			return next({ setup: event.setup }, event.setup?.state === 'running' ? [] : [{ kind: 'connect-waiting' }]);
	}
}

/** What the status line's one button does. */
export type StatusAction = 'stay' | 'retry' | 'restart' | 'dismiss-notice' | 'dismiss-reset';

const ACTION_LABELS: Record<StatusAction, string> = {
	stay: 'Stay',
	retry: 'Reconnect now',
	restart: 'Start a new shell',
	'dismiss-notice': 'Dismiss',
	'dismiss-reset': 'Dismiss',
};

export interface StatusLine {
	text: string;
	action: { kind: StatusAction; label: string } | null;
}

export interface ActiveTab {
	name: string;
	status: ConnectionStatus;
}

const seconds = (ms: number) => `${Math.max(1, Math.round(ms / 1000))} s`;

/**
 * The status line for the active tab: its connection, with the one action that helps. The
 * instructor's voice comes before the connection, and the reader's own reset before everything.
 * `lab`: the lab's profile, when known; `now` and `time` (a clock time in the reader's words) for the expiry.
 */
export function statusLine(model: PanelModel, tab: ActiveTab, lab: string | null, now: number, time: (at: number) => string): StatusLine {
	const action = (kind: StatusAction, label = ACTION_LABELS[kind]) => ({ kind, label });
	const { status } = tab;
	const where = lab ? `the ${lab} lab` : 'the lab';
	let line: StatusLine;
	switch (status.state) {
		case 'connecting':
			line = { text: `Connecting to ${where}…`, action: null };
			break;
		case 'connected':
			// Busy or not shows on the tab: announcing every command's start and end would be noise.
			line = { text: `Connected to ${where}.`, action: null };
			if (model.expiry && model.expiry.at > now) {
				line =
					model.expiry.reason === 'deadline'
						? { text: `The class ends at ${time(model.expiry.at)}: your shells close then.`, action: null }
						: { text: `No activity for a while: your shells close at ${time(model.expiry.at)}.`, action: action('stay') };
			}
			break;
		case 'reconnecting':
			line =
				status.code === 'LAB_ERR_LAB_PREPARING'
					? { text: model.setup?.brief ?? status.cause, action: null }
					: { text: `${status.cause} — reconnecting in ${seconds(status.retryInMs)}…`, action: action('retry') };
			break;
		case 'offline':
			line = { text: `Lab is offline — commands are copied instead. Trying again in ${seconds(status.retryInMs)}.`, action: action('retry', 'Try now') };
			break;
		case 'ended': {
			const exited = status.exitCode === null ? `Session ended: the shell in “${tab.name}” is gone.` : `Session ended: the shell in “${tab.name}” exited with status ${status.exitCode}.`;
			line = { text: status.reason ?? exited, action: action('restart') };
			break;
		}
		case 'failed':
			line = { text: status.message, action: action('restart', 'Try again') };
			break;
		case 'closed':
			line = { text: '', action: null };
			break;
	}
	if (model.labReset?.phase === 'done') {
		const ms = model.labReset.ms;
		if (status.state === 'connected') line = { ...line, text: `Connected to a fresh lab (reset in ${ms} ms).` };
		else if (status.state === 'connecting' || status.state === 'reconnecting') line = { ...line, text: `Your lab was reset in ${ms} ms: connecting to the fresh one…` };
	}
	if (model.notice !== null && status.state !== 'closed') {
		line = { text: `Message from your instructor: ${model.notice}`, action: action('dismiss-notice') };
	} else if (model.instructorTyping && status.state === 'connected') {
		line = { text: 'Your instructor is typing in this terminal.', action: null };
	}
	if (model.labReset?.phase === 'started') line = { text: 'Resetting your lab…', action: null };
	else if (model.labReset?.phase === 'failed') line = { text: model.labReset.message, action: action('dismiss-reset') };
	return line;
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
