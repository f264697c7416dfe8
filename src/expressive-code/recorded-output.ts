/**
 * "Recorded output — podman lab, <date>": what a block printed when the doc-tests last ran it on a
 * real lab, as a collapsed <details> under the block. Readers without a lab still see the result;
 * readers with one can compare.
 */
import { h } from '@astrojs/starlight/expressive-code/hast';
import type { RecordedBlock } from '../transcripts.ts';

/** Longest output shown; the rest is summarised, so a flood cannot bloat the page. */
const MAX_LINES = 60;

export function renderRecordedOutput(recorded: RecordedBlock) {
	const date = recorded.recordedAt.slice(0, 10);
	const lines = recorded.output.replace(/\n+$/, '').split('\n');
	const shown = lines.length > MAX_LINES ? [...lines.slice(0, MAX_LINES / 2), `… ${lines.length - MAX_LINES} more lines …`, ...lines.slice(-MAX_LINES / 2)] : lines;
	const status = recorded.exit === null ? 'left running' : `exit ${recorded.exit}`;
	return h('details', { className: ['podlab-recorded'] }, [
		h('summary', [`Recorded output — ${recorded.profile} lab, `, h('time', { dateTime: recorded.recordedAt }, date), ` (${status})`]),
		h('pre', { tabIndex: 0 }, [h('code', shown.join('\n') || '(no output)')]),
	]);
}

export const recordedOutputStyles = `
	.podlab-recorded {
		margin: 0;
		padding: 0.3rem 1rem 0.5rem;
		border-top: 1px dashed var(--sl-color-gray-5, #ccc);
		font-family: var(--__sl-font, system-ui, sans-serif);
		font-size: 0.8rem;

		summary {
			cursor: pointer;
			color: var(--sl-color-gray-3, #666);
		}
		summary:focus-visible {
			outline: 2px solid var(--sl-color-text-accent, #3451b2);
			outline-offset: 2px;
		}
		pre {
			margin: 0.4rem 0 0;
			max-height: 20rem;
			overflow: auto;
			font-family: var(--__sl-font-mono, ui-monospace, monospace);
			font-size: 0.8rem;
			/* Long lines wrap, as in the live terminal: no sideways scrolling, on a phone either. */
			white-space: pre-wrap;
			overflow-wrap: anywhere;
		}
	}
`;

/**
 * What the page says under a block for a lab that has no recorded run of it yet. Only the
 * kubernetes lab says anything: its blocks are checked offline (tests/kubernetes) on every change,
 * but until `npm run docs:record -- --profile kubernetes` has run on a node, none has run on one.
 */
const UNRECORDED: Readonly<Record<string, string>> = {
	kubernetes: 'checked offline, not yet run on a node',
};

/**
 * One line or one recording per lab the block runs on, in the order given: the recorded run where
 * there is one, else the lab's verification status (nothing for a lab with no status to tell).
 */
export function renderVerification(labs: ReadonlyArray<{ profile: string; recorded: RecordedBlock | undefined }>) {
	return labs.flatMap(({ profile, recorded }) => {
		if (recorded) return [renderRecordedOutput(recorded)];
		const status = UNRECORDED[profile];
		return status ? [h('p', { className: ['podlab-verification'], dataPodlabLab: profile }, [`${profile} lab: ${status}`])] : [];
	});
}

export const verificationStyles = `
	.podlab-verification {
		margin: 0;
		padding: 0.3rem 1rem 0.4rem;
		border-top: 1px dashed var(--sl-color-gray-5, #ccc);
		font-family: var(--__sl-font, system-ui, sans-serif);
		font-size: 0.8rem;
		color: var(--sl-color-gray-3, #666);
	}
`;
