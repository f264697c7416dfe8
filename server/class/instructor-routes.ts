/**
 * The instructor API once the instructor is authenticated (class-api.ts checks the token or cookie):
 * a table of each route's method, path (after /api/instructor/) and handler, and the matching that
 * answers 404 for an unknown route or student.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { TranscriptResponse } from '../../src/class-protocol.ts';
import { LabError, type LabResetResult } from '../../src/protocol.ts';
import { isHttps, readJsonBody, sendError, sendJson } from '../http-util.ts';
import { matchPath } from '../http/router.ts';
import type { ClassApiOptions } from './class-api.ts';
import { instructorCookie, instructorCookieEnd } from './class-cookies.ts';
import { progressView, rosterView, transcriptEntryOf, withLabs } from './class-views.ts';
import type { InstructorEvents } from './instructor-events.ts';
import type { Student } from './roster.ts';
import { transcriptCsv } from './run-log.ts';

/** Who asks, as authentication found. */
export interface InstructorCaller {
	address: string;
	/** Signed in with the cookie rather than the token. */
	signedIn: boolean;
}

/** What a route's handler gets: the request, the answer, who asks, and the student its path names. */
interface RouteContext extends InstructorCaller {
	req: IncomingMessage;
	res: ServerResponse;
	/** The student of a path with `:student` (an unknown one is answered 404 before the handler). */
	student: Student;
	/** The path's named parts (router.ts `matchPath`). */
	params: Record<string, string>;
}

interface InstructorRoute {
	method: 'GET' | 'POST' | 'DELETE';
	/** After /api/instructor/, with `:student` for a student's id (router.ts `matchPath`). */
	path: string;
	handle(context: RouteContext): void | Promise<void>;
}

export class InstructorRoutes {
	readonly #options: ClassApiOptions;
	readonly #events: InstructorEvents;

	constructor(options: ClassApiOptions, events: InstructorEvents) {
		this.#options = options;
		this.#events = events;
	}

	/** Answers an authenticated request for `path` (after /api/instructor/); 404 for no route, or a student not on the roster. */
	serve(req: IncomingMessage, res: ServerResponse, path: string, caller: InstructorCaller): void | Promise<void> {
		for (const route of this.#routes) {
			const params = req.method === route.method ? matchPath(route.path, path) : null;
			if (!params) continue;
			const student = params.student === undefined ? undefined : this.#options.roster.get(params.student);
			if (params.student !== undefined && !student) return sendError(res, 'LAB_ERR_NOT_FOUND');
			return route.handle({ req, res, ...caller, student: student!, params });
		}
		sendError(res, 'LAB_ERR_NOT_FOUND');
	}

	/** Each route's method, path (after /api/instructor/) and handler. */
	readonly #routes: InstructorRoute[] = [
		{
			method: 'POST',
			path: 'session',
			handle: ({ req, res, address }) => {
				// The token once, for an HttpOnly cookie: the instructor page never keeps the token itself.
				res.setHeader('Set-Cookie', instructorCookie(this.#options.key, isHttps(req, this.#options.config.trustProxy)));
				this.#options.logger.info({ address }, 'instructor signed in');
				sendJson(res, 200, { signedIn: true });
			},
		},
		{
			method: 'POST',
			path: 'broadcast',
			handle: async ({ req, res }) => {
				const body = z.strictObject({ text: z.string().trim().min(1).max(500) }).safeParse(await readJsonBody(req));
				if (!body.success) return sendError(res, 'LAB_ERR_BAD_REQUEST', 'Send {"text": "…"} (1–500 characters).');
				let delivered = 0;
				for (const student of this.#options.roster.list()) {
					const reader = this.#options.readers.peekStudent(student.id);
					if (!reader || reader.terminals.size === 0) continue;
					reader.notify({ t: 'notice', text: body.data.text });
					delivered++;
				}
				this.#options.logger.info({ delivered }, 'broadcast');
				sendJson(res, 200, { delivered });
			},
		},
		{
			method: 'GET',
			path: 'students',
			handle: async ({ res }) => {
				const view = rosterView(this.#options);
				sendJson(res, 200, this.#options.labStatusOf ? await withLabs(view, this.#options.labStatusOf) : view);
			},
		},
		{
			method: 'POST',
			path: 'reset',
			handle: async ({ res }) => {
				const results: LabResetResult[] = [];
				// One at a time: each reset may make a lab when the warm pool runs dry, and a whole class at once would starve the box.
				for (const student of this.#options.roster.list()) results.push(await this.#reset(student.id));
				this.#options.logger.info({ action: 'reset every lab', students: results.length }, 'instructor action');
				this.#events.rosterChanged();
				sendJson(res, 200, { students: results });
			},
		},
		{
			method: 'POST',
			path: 'students/:student/reset',
			handle: async ({ res, student }) => {
				const result = await this.#reset(student.id);
				this.#options.logger.info({ student: student.id, action: 'reset lab', ms: result.ms }, 'instructor action');
				this.#events.rosterChanged();
				sendJson(res, 200, result);
			},
		},
		{ method: 'GET', path: 'progress', handle: ({ res }) => sendJson(res, 200, progressView(this.#options.roster, this.#options.runLog)) },
		{
			method: 'GET',
			path: 'events',
			handle: ({ req, res, signedIn }) => {
				// A stream opened with the cookie ends with it (the page then asks to sign in again).
				const until = signedIn ? (instructorCookieEnd(req, this.#options.key) ?? Date.now()) : Number.POSITIVE_INFINITY;
				if (!this.#events.subscribe(req, res, until)) sendError(res, 'LAB_ERR_SOCKET_LIMIT');
			},
		},
		{
			method: 'GET',
			path: 'students/:student/transcript.:format',
			handle: ({ res, student, params: { format } }) => {
				if (format !== 'json' && format !== 'csv') return sendError(res, 'LAB_ERR_NOT_FOUND');
				const runs = this.#options.runLog.of(student.id);
				const filename = `podlab-${student.name.replace(/[^\w.-]+/g, '_')}.${format}`;
				res.setHeader('Content-Disposition', `attachment; filename="${filename}"`);
				if (format === 'json') {
					return sendJson(res, 200, { student: { id: student.id, name: student.name }, runs: runs.map(transcriptEntryOf) } satisfies TranscriptResponse);
				}
				const csv = transcriptCsv(runs);
				res.writeHead(200, { 'Content-Type': 'text/csv; charset=utf-8', 'Content-Length': Buffer.byteLength(csv) });
				res.end(csv);
			},
		},
		{ method: 'DELETE', path: 'students/:student/terminals', handle: ({ res, student }) => this.#endStudent(res, student, false) },
		{ method: 'DELETE', path: 'students/:student', handle: ({ res, student }) => this.#endStudent(res, student, true) },
	];

	/** Ends a student's terminals and, with `freeSeat`, gives their seat (and lab or host) back. */
	async #endStudent(res: ServerResponse, student: Student, freeSeat: boolean): Promise<void> {
		const { roster, readers } = this.#options;
		const reader = readers.peekStudent(student.id);
		const ended = reader ? await readers.endTerminals(reader) : 0;
		if (freeSeat) {
			await this.#options.releaseHost?.(student.id);
			await roster.remove(student.id);
		}
		this.#options.logger.info({ student: student.id, action: freeSeat ? 'free seat' : 'end terminals', ended }, 'instructor action');
		this.#events.rosterChanged();
		sendJson(res, 200, { id: student.id, terminalsEnded: ended, seatFreed: freeSeat });
	}

	/** Resets one student's lab. @throws {LabError} `LAB_ERR_RESET_UNSUPPORTED` when the backend cannot. */
	#reset(student: string): Promise<LabResetResult> {
		if (!this.#options.resetLab) throw new LabError('LAB_ERR_RESET_UNSUPPORTED');
		return this.#options.resetLab(this.#options.readers.student(student));
	}
}
