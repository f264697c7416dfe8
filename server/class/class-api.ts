/**
 * Class mode over HTTP: students join with the class code and get a signed cookie; the instructor
 * API (bearer token in the Authorization header, never in a URL) lists students and ends their
 * terminals or frees their seats.
 *
 *   POST   /api/join                              {name, code} → sets podlab_student
 *   POST   /api/instructor/session                the token once → the podlab_instructor cookie
 *   GET    /api/instructor/students               roster with terminals, lab host, page, activity, last run
 *   GET    /api/instructor/events                 the same, live (Server-Sent Events; instructor-events.ts)
 *   GET    /api/instructor/progress               students × blocks, latest exit
 *   POST   /api/instructor/broadcast              {text} → a notice in every student's panel
 *   GET    /api/instructor/students/:id/transcript.(json|csv)
 *   DELETE /api/instructor/students/:id/terminals  end the student's terminals
 *   DELETE /api/instructor/students/:id           free the seat (terminals end, the cookie stops working)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseCookie, stringifySetCookie } from 'cookie';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { z } from 'zod';
import { hashSecret, verifySecret } from '../auth/secret-hash.ts';
import { signToken, verifyToken } from '../auth/signed-token.ts';
import type { Config } from '../config.ts';
import type { Reader, ReaderRegistry } from '../readers.ts';
import { LabError, type ProgressResponse, type RosterResponse, type TranscriptEntry, type TranscriptResponse } from '../../src/protocol.ts';
import { InstructorEvents } from './instructor-events.ts';
import { displayName, type Roster } from './roster.ts';
import { transcriptCsv, type RunEntry, type RunLog } from './run-log.ts';
import { clientAddress, isHttps, readJsonBody, sendError, sendJson } from '../http-util.ts';

export const STUDENT_COOKIE = 'podlab_student';
export const INSTRUCTOR_COOKIE = 'podlab_instructor';
const DEFAULT_SESSION_MS = 12 * 3_600_000;

const joinRequest = z.strictObject({ name: displayName, code: z.string().min(1).max(200) });

export interface ClassApiOptions {
	config: Config;
	roster: Roster;
	readers: ReaderRegistry;
	/** Signs student cookies (from the state directory, so cookies survive restarts). */
	key: Buffer;
	logger: Logger;
	/** The lab host a student's terminals run on, when the backend assigns hosts. */
	hostOf?: (studentId: string) => string | null;
	/** Gives a joining student their place in the backend (a lab host). @throws {LabError} `LAB_ERR_POOL_FULL` when none is left. */
	assignHost?: (studentId: string) => Promise<void>;
	/** Ends a student's sessions on their host and gives the host back (when their seat is freed). */
	releaseHost?: (studentId: string) => Promise<void>;
	/** Every run of every student, for the progress board and transcripts. */
	runLog: RunLog;
	/** Told of every refused join (metrics). */
	onJoinRefused?: (reason: 'code' | 'rate' | 'full' | 'pool') => void;
}

export class ClassApi {
	readonly #options: ClassApiOptions;
	readonly #joinCodeHash: Promise<string>;
	readonly #instructorTokenHash: Promise<string>;
	/** Failed joins, per client address (in memory: a restart forgets them). */
	readonly #attempts: RateLimiterMemory;
	/** Failed instructor tokens, per client address, counted apart so they cannot lock students out. */
	readonly #instructorAttempts: RateLimiterMemory;
	/** The instructor page's live feed. */
	readonly events: InstructorEvents;

	constructor(options: ClassApiOptions) {
		this.#options = options;
		const { config } = options;
		// Secrets given in plain text (environment) are hashed once, so every check takes the same path.
		this.#joinCodeHash = config.joinCodeHash ? Promise.resolve(config.joinCodeHash) : hashSecret(config.joinCode!);
		this.#instructorTokenHash = config.instructorTokenHash ? Promise.resolve(config.instructorTokenHash) : hashSecret(config.instructorToken!);
		this.#attempts = new RateLimiterMemory({ points: config.joinAttemptsPerMinute, duration: 60 });
		this.#instructorAttempts = new RateLimiterMemory({ points: config.joinAttemptsPerMinute, duration: 60 });
		this.events = new InstructorEvents({ roster: () => this.#rosterView(), progress: () => this.#progressView() });
	}

	/** The joined student's reader for this request, or null (no cookie, forged, expired, or seat freed). */
	readerFor(req: IncomingMessage): Reader | null {
		const token = parseCookie(req.headers.cookie ?? '')[STUDENT_COOKIE];
		const payload = verifyToken(token, this.#options.key, 'student');
		if (!payload) return null;
		const student = this.#options.roster.get(payload.sub);
		if (!student) return null;
		this.#options.roster.seen(student.id);
		return this.#options.readers.student(student.id);
	}

	/** The display name of a reader's student, for /api/session. */
	studentOf(reader: Reader): { id: string; name: string } | null {
		const student = this.#options.roster.get(reader.label);
		return student ? { id: student.id, name: student.name } : null;
	}

	/** Whether the request carries the instructor token (for /metrics). */
	async isInstructor(req: IncomingMessage): Promise<boolean> {
		const token = /^Bearer (\S{1,200})$/.exec(req.headers.authorization ?? '')?.[1];
		return token !== undefined && verifySecret(token, await this.#instructorTokenHash);
	}

	/** Whether the request carries the instructor's signed cookie (from POST /api/instructor/session). */
	hasInstructorCookie(req: IncomingMessage): boolean {
		return this.#instructorCookieEnd(req) !== null;
	}

	/** When the request's instructor cookie expires (epoch ms), or null without a valid one. */
	#instructorCookieEnd(req: IncomingMessage): number | null {
		return verifyToken(parseCookie(req.headers.cookie ?? '')[INSTRUCTOR_COOKIE], this.#options.key, 'instructor')?.exp ?? null;
	}

	/** Handles /api/join and /api/instructor/*; false for any other path. */
	handle(req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
		if (pathname === '/api/join') {
			void this.#join(req, res).catch((error) => this.#fail(res, error));
			return true;
		}
		if (pathname.startsWith('/api/instructor/')) {
			void this.#instructor(req, res, pathname).catch((error) => this.#fail(res, error));
			return true;
		}
		return false;
	}

	async #join(req: IncomingMessage, res: ServerResponse): Promise<void> {
		if (req.method !== 'POST') return sendError(res, 'LAB_ERR_NOT_FOUND');
		const body = joinRequest.safeParse(await readJsonBody(req));
		if (!body.success) {
			const issue = body.error.issues[0];
			return sendJson(res, 400, { code: 'LAB_ERR_BAD_REQUEST', message: `${issue?.path.join('.') || 'request'}: ${issue?.message}` });
		}
		const address = clientAddress(req, this.#options.config.trustProxy);
		const existing = this.readerFor(req);
		if (existing) return sendJson(res, 200, this.studentOf(existing));
		// Only failures count: a whole class often joins from one address (the school's NAT).
		const blocked = await this.#attempts.get(address);
		if (blocked && blocked.remainingPoints <= 0) {
			this.#options.onJoinRefused?.('rate');
			return this.#tooMany(res, blocked.msBeforeNext);
		}
		if (!(await verifySecret(body.data.code, await this.#joinCodeHash))) {
			this.#options.onJoinRefused?.('code');
			const retryIn = await this.#countFailure(this.#attempts, address);
			this.#options.logger.info({ address, reason: 'code' }, 'join refused');
			if (retryIn !== null) return this.#tooMany(res, retryIn);
			return sendError(res, 'LAB_ERR_JOIN_CODE');
		}
		const student = this.#options.roster.join(body.data.name);
		if (!student) {
			this.#options.logger.info({ address, reason: 'full', seats: this.#options.roster.seats }, 'join refused');
			this.#options.onJoinRefused?.('full');
			return sendError(res, 'LAB_ERR_CLASS_FULL');
		}
		try {
			await this.#options.assignHost?.(student.id);
		} catch (error) {
			this.#options.roster.remove(student.id);
			if (!(error instanceof LabError && error.code === 'LAB_ERR_POOL_FULL')) throw error;
			this.#options.logger.info({ address, reason: 'pool full' }, 'join refused');
			this.#options.onJoinRefused?.('pool');
			return sendError(res, 'LAB_ERR_POOL_FULL');
		}
		const expires = this.#sessionEnd(student.joinedAt);
		res.setHeader(
			'Set-Cookie',
			stringifySetCookie({
				name: STUDENT_COOKIE,
				value: signToken({ sub: student.id, aud: 'student', exp: expires }, this.#options.key),
				httpOnly: true,
				sameSite: 'strict',
				secure: isHttps(req, this.#options.config.trustProxy),
				path: '/',
				expires: new Date(expires),
			}),
		);
		this.#options.logger.info({ student: student.id, seats: `${this.#options.roster.size}/${this.#options.roster.seats}` }, 'student joined');
		this.events.rosterChanged();
		sendJson(res, 200, { id: student.id, name: student.name });
	}

	async #instructor(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
		const address = clientAddress(req, this.#options.config.trustProxy);
		const blocked = await this.#instructorAttempts.get(address);
		if (blocked && blocked.remainingPoints <= 0) return this.#tooMany(res, blocked.msBeforeNext);
		const header = req.headers.authorization ?? '';
		const token = /^Bearer (\S{1,200})$/.exec(header)?.[1];
		const signedIn = !token && this.hasInstructorCookie(req);
		if (!signedIn && (!token || !(await verifySecret(token, await this.#instructorTokenHash)))) {
			this.#options.logger.info({ address }, 'instructor authentication refused');
			// Only a wrong token counts: a missing header is a browser that was not signed in.
			const retryIn = token ? await this.#countFailure(this.#instructorAttempts, address) : null;
			if (retryIn !== null) return this.#tooMany(res, retryIn);
			res.setHeader('WWW-Authenticate', 'Bearer realm="podlab instructor"');
			return sendError(res, 'LAB_ERR_INSTRUCTOR_AUTH');
		}
		res.setHeader('Cache-Control', 'no-store');
		const { roster, readers } = this.#options;
		if (pathname === '/api/instructor/session' && req.method === 'POST') {
			// The token once, for an HttpOnly cookie: the instructor page never keeps the token itself.
			res.setHeader(
				'Set-Cookie',
				stringifySetCookie({
					name: INSTRUCTOR_COOKIE,
					value: signToken({ sub: 'instructor', aud: 'instructor', exp: Date.now() + DEFAULT_SESSION_MS }, this.#options.key),
					httpOnly: true,
					sameSite: 'strict',
					secure: isHttps(req, this.#options.config.trustProxy),
					path: '/',
				}),
			);
			this.#options.logger.info({ address }, 'instructor signed in');
			return sendJson(res, 200, { signedIn: true });
		}
		if (pathname === '/api/instructor/broadcast' && req.method === 'POST') {
			const body = z.strictObject({ text: z.string().trim().min(1).max(500) }).safeParse(await readJsonBody(req));
			if (!body.success) return sendJson(res, 400, { code: 'LAB_ERR_BAD_REQUEST', message: 'Send {"text": "…"} (1–500 characters).' });
			let delivered = 0;
			for (const student of roster.list()) {
				const reader = readers.peekStudent(student.id);
				if (!reader || reader.terminals.size === 0) continue;
				reader.notify({ t: 'notice', text: body.data.text });
				delivered++;
			}
			this.#options.logger.info({ delivered }, 'broadcast');
			return sendJson(res, 200, { delivered });
		}
		if (pathname === '/api/instructor/students' && req.method === 'GET') return sendJson(res, 200, this.#rosterView());
		if (pathname === '/api/instructor/progress' && req.method === 'GET') return sendJson(res, 200, this.#progressView());
		if (pathname === '/api/instructor/events' && req.method === 'GET') {
			// A stream opened with the cookie ends with it (the page then asks to sign in again).
			const until = signedIn ? (this.#instructorCookieEnd(req) ?? Date.now()) : Number.POSITIVE_INFINITY;
			if (!this.events.subscribe(req, res, until)) sendError(res, 'LAB_ERR_SOCKET_LIMIT');
			return;
		}
		const transcript = /^\/api\/instructor\/students\/(s[0-9a-f]{12})\/transcript\.(json|csv)$/.exec(pathname);
		if (transcript && req.method === 'GET') {
			const student = roster.get(transcript[1]!);
			if (!student) return sendError(res, 'LAB_ERR_NOT_FOUND');
			const runs = this.#options.runLog.of(student.id);
			const filename = `podlab-${student.name.replace(/[^\w.-]+/g, '_')}.${transcript[2]}`;
			res.setHeader('Content-Disposition', `attachment; filename="${filename}"`);
			if (transcript[2] === 'json') {
				return sendJson(res, 200, { student: { id: student.id, name: student.name }, runs: runs.map(transcriptEntryOf) } satisfies TranscriptResponse);
			}
			const csv = transcriptCsv(runs);
			res.writeHead(200, { 'Content-Type': 'text/csv; charset=utf-8', 'Content-Length': Buffer.byteLength(csv) });
			return void res.end(csv);
		}
		const match = /^\/api\/instructor\/students\/(s[0-9a-f]{12})(\/terminals)?$/.exec(pathname);
		if (match && req.method === 'DELETE') {
			const student = roster.get(match[1]!);
			if (!student) return sendError(res, 'LAB_ERR_NOT_FOUND');
			const reader = readers.peekStudent(student.id);
			const ended = reader ? await readers.endTerminals(reader) : 0;
			if (!match[2]) {
				await this.#options.releaseHost?.(student.id);
				roster.remove(student.id);
			}
			this.#options.logger.info({ student: student.id, action: match[2] ? 'end terminals' : 'free seat', ended }, 'instructor action');
			this.events.rosterChanged();
			return sendJson(res, 200, { id: student.id, terminalsEnded: ended, seatFreed: !match[2] });
		}
		sendError(res, 'LAB_ERR_NOT_FOUND');
	}

	/** The roster as the instructor sees it: who, where, how active, what ran last, which terminals. */
	#rosterView(): RosterResponse {
		const { roster, readers } = this.#options;
		return {
			seats: { taken: roster.size, total: roster.seats },
			students: roster.list().map((student) => {
				const reader = readers.peekStudent(student.id);
				return {
					id: student.id,
					name: student.name,
					joinedAt: new Date(student.joinedAt).toISOString(),
					// Keystrokes and runs, not page loads: "idle" means not working in the lab.
					lastActivity: new Date(Math.max(student.joinedAt, student.lastRun?.at ?? 0, reader?.lastActivity ?? 0)).toISOString(),
					lastRun: student.lastRun && { ...student.lastRun, at: new Date(student.lastRun.at).toISOString() },
					labHost: this.#options.hostOf?.(student.id) ?? null,
					page: reader?.page ?? null,
					connected: (reader?.sockets ?? 0) > 0,
					terminals: reader ? [...reader.terminals.values()].map((terminal) => ({ name: terminal.name, busy: terminal.busy })) : [],
				};
			}),
		};
	}

	/** Per student, each block's latest run. */
	#progressView(): ProgressResponse {
		const board = this.#options.runLog.progress();
		return {
			students: this.#options.roster.list().map((student) => ({
				id: student.id,
				name: student.name,
				blocks: Object.fromEntries(
					[...(board.get(student.id) ?? new Map<string, { exit: number; at: number }>())].map(([block, run]) => [block, { exit: run.exit, at: new Date(run.at).toISOString() }]),
				),
			})),
		};
	}

	/** Counts a failed attempt; returns ms until the address may try again once it has none left. */
	async #countFailure(limiter: RateLimiterMemory, address: string): Promise<number | null> {
		try {
			await limiter.consume(address);
			return null;
		} catch (rejection) {
			if (rejection instanceof RateLimiterRes) return rejection.msBeforeNext;
			throw rejection;
		}
	}

	#tooMany(res: ServerResponse, retryInMs: number): void {
		const seconds = Math.max(1, Math.ceil(retryInMs / 1000));
		res.setHeader('Retry-After', String(seconds));
		sendJson(res, 429, { code: 'LAB_ERR_JOIN_RATE', message: `Too many attempts from this address: try again in ${seconds} s.`, retryAfterSeconds: seconds });
	}

	#sessionEnd(joinedAt: number): number {
		const classEnd = this.#options.config.classEndsAt ? Date.parse(this.#options.config.classEndsAt) : Number.POSITIVE_INFINITY;
		return Math.min(joinedAt + DEFAULT_SESSION_MS, classEnd);
	}

	#fail(res: ServerResponse, error: unknown): void {
		if ((error as { code?: string }).code === 'LAB_ERR_BAD_REQUEST') {
			if (!res.headersSent) sendError(res, 'LAB_ERR_BAD_REQUEST');
			return;
		}
		this.#options.logger.error({ err: error }, 'class API request failed');
		if (!res.headersSent) sendError(res, 'LAB_ERR_INTERNAL');
	}
}

/** A run as the instructor API sends it (ISO time). */
export function transcriptEntryOf(run: RunEntry): TranscriptEntry {
	return { ...run, at: new Date(run.at).toISOString() };
}
