/**
 * The gateway's HTTP API as the panel uses it: `GET /api/session` (sets the reader cookie, lists the
 * reader's terminals) and `GET /api/lab` (what the lab is). Loaded with the terminal, not before:
 * the bootstrap only needs to know whether the gateway answers ({@link gatewayAnswers}).
 */
import { isLabResponse, isSessionResponse } from 'virtual:podlab/validators';
import type { Validator } from '../../build/protocol-validators.ts';
import type { LabResponse, SessionResponse } from '../../protocol.ts';
import { apiUrl, getJson, getLab } from '../page/urls.ts';

export type ReaderSession = SessionResponse;
export type LabInfo = LabResponse;

const TIMEOUT_MS = 5_000;

/** `body` when `check` accepts it, else null (with a warning naming `url`). */
function valid<T>(url: string, body: unknown, check: Validator<T>): T | null {
	if (body === null) return null;
	if (!check(body)) {
		// `undefined`: the answer said it was JSON and was not.
		console.warn(`[podlab] unexpected answer from ${url}:`, String(JSON.stringify(body)).slice(0, 200));
		return null;
	}
	return body;
}

/** The reader's session, or `null` when the gateway does not answer. */
export async function fetchSession(): Promise<ReaderSession | null> {
	return valid(apiUrl('session'), await getJson(apiUrl('session'), TIMEOUT_MS), isSessionResponse);
}

/**
 * The names of the reader's terminals: from `known`, the session the bootstrap already fetched (see
 * gatewayAnswers) when it is one, else asked again. None when the gateway does not answer.
 */
export async function readerTerminals(known: unknown): Promise<string[]> {
	const session = isSessionResponse(known) ? known : await fetchSession();
	return session?.terminals.map(({ name }) => name) ?? [];
}

/** What the lab is, or `null` when the gateway does not answer (the page's one request: see getLab). */
export async function fetchLab(): Promise<LabInfo | null> {
	return valid(apiUrl('lab'), await getLab(TIMEOUT_MS), isLabResponse);
}
