/**
 * The instructor API as the instructor page uses it (see server/class/class-api.ts): sign in, the
 * live feed's payloads, broadcast, ending a student's terminals or freeing the seat, resetting labs,
 * transcripts.
 * Answers are checked with zod (loose objects: a newer gateway may add fields).
 */
import * as z from 'zod/mini';
import { rosterResponse, transcriptResponse, type RosterResponse, type TranscriptEntry } from '../class-protocol.ts';
import { labResetResult, type LabResetResult } from '../protocol.ts';
import { apiUrl, instructorApiUrl } from '../terminal/page/urls.ts';

/** The chapters and their runnable blocks, listed by the page at build time. */
export const chaptersSchema = z.array(
	z.object({
		slug: z.string(),
		title: z.string(),
		href: z.string(),
		blocks: z.array(z.object({ id: z.string(), profile: z.nullable(z.string()), summary: z.string() })),
		/** The chapter's exercises: a column each on the board. */
		exercises: z.array(z.object({ id: z.string(), title: z.string() })),
	}),
);
export type Chapter = z.infer<typeof chaptersSchema>[number];

/** What the page can do: watch (signed in), sign in first, or nothing (no class here, or no gateway). */
export type Access = { state: 'signed-in'; roster: RosterResponse } | { state: 'sign-in' } | { state: 'unavailable'; message: string };

async function request(path: string, init: RequestInit = {}): Promise<Response> {
	return fetch(instructorApiUrl(path), { credentials: 'same-origin', ...init, headers: { accept: 'application/json', ...init.headers } });
}

async function errorMessage(response: Response): Promise<string> {
	const body = (await response.json().catch(() => null)) as { message?: unknown } | null;
	return typeof body?.message === 'string' ? body.message : `The gateway answered ${response.status}.`;
}

export async function checkAccess(): Promise<Access> {
	let response: Response;
	try {
		response = await request('students');
	} catch {
		return { state: 'unavailable', message: 'The gateway does not answer. Is `npm start` running, and is this its address?' };
	}
	if (response.status === 401) return { state: 'sign-in' };
	if (response.status === 404 && (response.headers.get('content-type') ?? '').includes('json')) {
		return {
			state: 'unavailable',
			message: 'This gateway runs in local mode: there is no class to watch. Start it with PODLAB_MODE=class (see Self-hosting).',
		};
	}
	if (!response.ok) return { state: 'unavailable', message: await errorMessage(response) };
	const roster = rosterResponse.safeParse(await response.json().catch(() => null));
	return roster.success ? { state: 'signed-in', roster: roster.data } : { state: 'unavailable', message: 'The gateway sent a roster this page cannot read.' };
}

/** Exchanges the token for the instructor cookie. @returns null when signed in, else what went wrong. */
export async function signIn(token: string): Promise<string | null> {
	const response = await request('session', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
	if (response.ok) return null;
	if (response.status === 401) return 'That is not the instructor token.';
	return errorMessage(response);
}

/** @returns how many students had a terminal open to show it. */
export async function broadcast(text: string): Promise<number> {
	const response = await request('broadcast', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text }) });
	if (!response.ok) throw new Error(await errorMessage(response));
	return z.object({ delivered: z.number() }).parse(await response.json()).delivered;
}

/** Ends the student's terminals (their next Run starts a fresh shell); `freeSeat` also removes them from the class. */
export async function endStudent(id: string, freeSeat: boolean): Promise<void> {
	const response = await request(`students/${id}${freeSeat ? '' : '/terminals'}`, { method: 'DELETE' });
	if (!response.ok) throw new Error(await errorMessage(response));
}

/** The roster with each student's lab (GET /api/instructor/students; the feed's roster has no labs). */
export async function fetchRoster(): Promise<RosterResponse> {
	const response = await request('students');
	if (!response.ok) throw new Error(await errorMessage(response));
	return rosterResponse.parse(await response.json());
}

/** Replaces the student's lab with a fresh one; their terminals reconnect to it. */
export async function resetStudentLab(id: string): Promise<LabResetResult> {
	const response = await request(`students/${id}/reset`, { method: 'POST' });
	if (!response.ok) throw new Error(await errorMessage(response));
	return labResetResult.parse(await response.json());
}

/** Replaces every student's lab, one after another (the gateway stops at the first that fails). */
export async function resetEveryLab(): Promise<LabResetResult[]> {
	const response = await request('reset', { method: 'POST' });
	if (!response.ok) throw new Error(await errorMessage(response));
	return z.object({ students: z.array(labResetResult) }).parse(await response.json()).students;
}

export function transcriptUrl(id: string, format: 'json' | 'csv'): string {
	return instructorApiUrl(`students/${id}/transcript.${format}`);
}

export async function fetchTranscript(id: string): Promise<TranscriptEntry[]> {
	const response = await request(`students/${id}/transcript.json`);
	if (!response.ok) throw new Error(await errorMessage(response));
	return transcriptResponse.parse(await response.json()).runs;
}

/**
 * The lab's profile ("podman", "kubernetes"): which blocks of a chapter the students run; whether
 * the students share the gateway's own machine (class mode on the `local` backend); and whether each
 * student’s lab of their own can be reset (the incus backend).
 */
export async function labProfile(): Promise<{ profile: string | null; sharedMachine: boolean; resettable: boolean }> {
	try {
		const response = await fetch(apiUrl('lab'), { credentials: 'same-origin' });
		const body = z
			.looseObject({ profile: z.nullish(z.string()), backend: z.nullish(z.string()), mode: z.nullish(z.string()), resettable: z.nullish(z.boolean()) })
			.parse(await response.json());
		return { profile: body.profile ?? null, sharedMachine: body.mode === 'class' && body.backend === 'local', resettable: body.resettable === true };
	} catch {
		return { profile: null, sharedMachine: false, resettable: false };
	}
}
