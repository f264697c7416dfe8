/**
 * The panel's status line as a pure function of its state (panel-model.ts): the active tab's
 * connection, with the one action that helps, unless the instructor or the reader's own reset has
 * something more pressing to say.
 */
import type { PanelModel, StatusAction } from './panel-model.ts';

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

const seconds = (ms: number) => `${Math.max(1, Math.round(ms / 1000))} s`;

/**
 * The status line for the active tab: its connection, with the one action that helps. The
 * instructor's voice comes before the connection, and the reader's own reset before everything.
 * `now` and `time` (a clock time in the reader's words) for the expiry; null before the first tab.
 */
export function statusLine(model: PanelModel, now: number, time: (at: number) => string): StatusLine | null {
	const tab = model.tabs[model.active];
	if (!tab) return null;
	const action = (kind: StatusAction, label = ACTION_LABELS[kind]) => ({ kind, label });
	const { status } = tab;
	const where = model.lab?.profile ? `the ${model.lab.profile} lab` : 'the lab';
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
			const exited = status.exitCode === null ? `Session ended: the shell in “${model.active}” is gone.` : `Session ended: the shell in “${model.active}” exited with status ${status.exitCode}.`;
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

