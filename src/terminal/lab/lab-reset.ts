/**
 * "Reset my lab" from the reader's side: `POST /api/lab/reset`, announced to the page at its start
 * and end (lab-reset-event.ts).
 *
 * Loaded when a reader confirms a reset, from the panel or /lab-check/'s button
 * (`requestLabReset` in lab-reset-event.ts): not part of every page, nor of the first Run.
 */
import { isLabResetResult } from 'virtual:podlab/validators';
import { isErrorCode } from '../connection/error-policy.ts';
import { announceLabReset, type LabResetEvent } from './lab-reset-event.ts';
import { apiUrl, fetchJson } from '../page/urls.ts';

/** How long a reset may take before the page gives up waiting (the gateway's own goal is 2 s). */
const TIMEOUT_MS = 30_000;

/** The longest sentence of the gateway's a failed reset shows. */
const MAX_MESSAGE = 300;

/** Resets the reader's lab, and announces it to the page. Never throws. */
export async function resetLab(): Promise<Exclude<LabResetEvent, { phase: 'started' }>> {
	announceLabReset({ phase: 'started' });
	const outcome = await request();
	announceLabReset(outcome);
	return outcome;
}

async function request(): Promise<Exclude<LabResetEvent, { phase: 'started' }>> {
	const answer = await fetchJson(apiUrl('lab/reset'), TIMEOUT_MS, 'POST');
	if (!answer) return { phase: 'failed', message: 'The gateway does not answer: your lab was not reset.' };
	const { body } = answer;
	if (answer.ok) {
		if (isLabResetResult(body)) return { phase: 'done', lab: body.lab, ms: body.ms };
		return { phase: 'failed', message: 'The gateway sent an answer this page cannot read.' };
	}
	const { code, message } = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
	// A reader who never opened a terminal has no reader yet, and so no lab to reset.
	if (code === 'LAB_ERR_NO_READER') return { phase: 'failed', message: 'You have no lab yet: it starts with your first Run.' };
	// The gateway's own sentence for one of the protocol's errors (sendError), one line at most.
	if (typeof code === 'string' && isErrorCode(code) && typeof message === 'string' && message.length <= MAX_MESSAGE) return { phase: 'failed', message };
	return { phase: 'failed', message: `The gateway answered ${answer.status}: your lab was not reset.` };
}
