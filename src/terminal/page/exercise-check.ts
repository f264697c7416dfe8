/**
 * What an exercise shows (src/components/Exercise.astro): the words of its hint button, and what a
 * check's answer (`POST /api/check/<id>`) or a saved result means for the reader. Pure: the element
 * (exercise-element.ts) asks and draws.
 *
 * The answer is checked by hand, as saved-results.ts checks its own: no zod on a reader's page.
 */
import type { JsonAnswer } from './urls.ts';

/** The longest message of a check's script, or of the gateway's error, that a reader is shown. */
export const MAX_MESSAGE = 300;

export type CheckState = 'checking' | 'solved' | 'not-yet' | 'error';

/** What the exercise's status line says. */
export interface CheckView {
	state: CheckState;
	text: string;
}

/** What a check's answer means: what to show and, for a check that ran, the result to count (0: solved). */
export type CheckOutcome = (CheckView & { exit?: 0 | 1 }) | { state: 'no-reader' };

export const CHECKING: CheckView = { state: 'checking', text: 'Checking…' };

/** The gateway still knows no reader after the page asked it for a session. */
export const NO_SESSION: CheckView = { state: 'error', text: 'The gateway gave this page no session: load the page again, then check.' };

/** The hint button's words once `shown` of `total` hints are out ("Show a hint (1 of 2)"). */
export function hintButtonLabel(shown: number, total: number): string {
	return `${shown === 0 ? 'Show a hint' : 'Show the next hint'} (${shown + 1} of ${total})`;
}

/** A hint's own title once the element numbers them ("Hint 1 of 2"); without JavaScript each says "Hint". */
export function hintTitle(position: number, total: number): string {
	return total === 1 ? 'Hint' : `Hint ${position} of ${total}`;
}

function solved(): CheckView & { exit: 0 } {
	return { state: 'solved', text: '✓ Solved', exit: 0 };
}

/** One line of plain text, as long as a reader is shown. */
function oneLine(text: string): string {
	return text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim().slice(0, MAX_MESSAGE);
}

/**
 * What an answer to `POST /api/check/<id>` means. `no-reader`: the reader has no session cookie yet
 * (they never opened a terminal); the element gets one and asks again.
 *
 * @param answer null when nothing answered in time (see `fetchJson`)
 */
export function checkOutcome(id: string, answer: JsonAnswer | null): CheckOutcome {
	if (!answer) return { state: 'error', text: 'The gateway does not answer: try again in a moment.' };
	const body = typeof answer.body === 'object' && answer.body !== null ? (answer.body as Record<string, unknown>) : {};
	if (answer.ok) {
		if (body.id !== id || typeof body.ok !== 'boolean' || typeof body.message !== 'string') {
			return { state: 'error', text: 'The gateway sent an answer this page cannot read.' };
		}
		if (body.ok) return solved();
		const message = oneLine(body.message);
		return { state: 'not-yet', text: message ? `Not yet: ${message}` : 'Not yet.', exit: 1 };
	}
	const { code, message } = body;
	if (code === 'LAB_ERR_NO_READER') return { state: 'no-reader' };
	// The gateway's own sentence for one of the protocol's errors: the lab is starting, a check runs, …
	if (typeof code === 'string' && code.startsWith('LAB_ERR_') && typeof message === 'string' && oneLine(message)) return { state: 'error', text: oneLine(message) };
	return { state: 'error', text: `The gateway answered ${answer.status}: the check did not run.` };
}

/** A result the gateway kept from an earlier check (its exit status: 0 solved, else not yet). */
export function savedOutcome(exit: number): CheckView {
	return exit === 0 ? solved() : { state: 'not-yet', text: 'Not yet: your last check did not pass.' };
}
