/**
 * The gateway's HTTP API as the panel uses it: `GET /api/session` (sets the reader cookie, lists the
 * reader's terminals) and `GET /api/lab` (what the lab is). Loaded with the terminal, not before:
 * the bootstrap only needs to know whether the gateway answers ({@link gatewayAnswers}).
 */
import type * as z from 'zod/mini';
import { labResponse, sessionResponse, type LabResponse, type SessionResponse } from '../protocol.ts';
import { apiUrl, getJson, getLab } from './urls.ts';

export type ReaderSession = SessionResponse;
export type LabInfo = LabResponse;

const TIMEOUT_MS = 5_000;

/** `body` as `schema` says, or null (with a warning naming `url`) when it is not that. */
function valid<T>(url: string, body: unknown, schema: z.ZodMiniType<T>): T | null {
	if (body === null) return null;
	const parsed = schema.safeParse(body);
	if (!parsed.success) {
		console.warn(`[podlab] unexpected answer from ${url}:`, parsed.error.issues[0]);
		return null;
	}
	return parsed.data;
}

/** The reader's session, or `null` when the gateway does not answer. */
export async function fetchSession(): Promise<ReaderSession | null> {
	return valid(apiUrl('session'), await getJson(apiUrl('session'), TIMEOUT_MS), sessionResponse);
}

/** A session the bootstrap already fetched (see gatewayAnswers), or `null` when it is not one. */
export function readSession(body: unknown): ReaderSession | null {
	const parsed = sessionResponse.safeParse(body);
	return parsed.success ? parsed.data : null;
}

/** What the lab is, or `null` when the gateway does not answer (the page's one request: see getLab). */
export async function fetchLab(): Promise<LabInfo | null> {
	return valid(apiUrl('lab'), await getLab(TIMEOUT_MS), labResponse);
}
