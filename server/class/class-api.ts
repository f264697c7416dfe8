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
 *   POST   /api/instructor/students/:id/reset     replace the student's lab with a fresh one (backends with labs of one's own)
 *   POST   /api/instructor/reset                  the same for every student of the class
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
import type { StudentLabStatus } from '../backends/backend.ts';
import type { ProgressResponse, RosterResponse, RosterStudent, TranscriptEntry, TranscriptResponse } from '../../src/class-protocol.ts';
import { LabError, type LabResetResult } from '../../src/protocol.ts';
import { InstructorEvents } from './instructor-events.ts';
import { displayName, STUDENT_ID, type Roster, type Student } from './roster.ts';
import { transcriptCsv, type RunEntry, type RunLog } from './run-log.ts';
import { bearerToken, clientAddress, isHttps, readJsonBody, sendError, sendJson } from '../http-util.ts';

export const STUDENT_COOKIE = 'podlab_student';
export const INSTRUCTOR_COOKIE = 'podlab_instructor';
const DEFAULT_SESSION_MS = 12 * 3_600_000;

const joinRequest = z.strictObject({ name: displayName, code: z.string().min(1).max(200) });

/**
 * Wrong join codes one address may send per minute, as a multiple of the per-name allowance
 * (PODLAB_JOIN_ATTEMPTS_PER_MINUTE): a class behind one NAT address mistypes, each student under their
 * own name, without locking out the others; a guesser who varies the name is held to this many.
 * docs/security.md has the arithmetic.
 */
export const ADDRESS_ATTEMPTS_FACTOR = 10;

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
	/** The student's lab of their own on the roster (name, state, memory), when the backend has them. */
	labStatusOf?: (studentId: string) => Promise<StudentLabStatus | null>;
	/** Replaces the reader's lab with a fresh one (server/backends/lab-reset.ts). @throws {LabError} `LAB_ERR_RESET_UNSUPPORTED` */
	resetLab?: (reader: Reader) => Promise<LabResetResult>;
	/** Every run of every student, for the progress board and transcripts. */
	runLog: RunLog;
	/** Told of every refused join (metrics). */
	onJoinRefused?: (reason: 'code' | 'rate' | 'full' | 'pool') => void;
}

export class ClassApi {
	readonly #options: ClassApiOptions;
	readonly #joinCodeHash: Promise<string>;
	readonly #instructorTokenHash: Promise<string>;
	/**
	 * Wrong join codes per client address and name, and per address (in memory: a restart forgets
	 * them). Only failures count, and a student's own name has its own allowance, so neighbours who
	 * mistype do not lock a student out.
	 */
	readonly #nameAttempts: RateLimiterMemory;
	readonly #addressAttempts: RateLimiterMemory;
	/** Wrong instructor tokens, per client address, counted apart so they cannot lock students out. */
	readonly #instructorAttempts: RateLimiterMemory;
	/** The instructor page's live feed. */
	readonly events: InstructorEvents;

	constructor(options: ClassApiOptions) {
		this.#options = options;
		const { config } = options;
		// Secrets given in plain text (environment) are hashed once, so every check takes the same path.
		this.#joinCodeHash = config.joinCodeHash ? Promise.resolve(config.joinCodeHash) : hashSecret(config.joinCode!);
		this.#instructorTokenHash = config.instructorTokenHash ? Promise.resolve(config.instructorTokenHash) : hashSecret(config.instructorToken!);
		this.#nameAttempts = new RateLimiterMemory({ points: config.joinAttemptsPerMinute, duration: 60 });
		this.#addressAttempts = new RateLimiterMemory({ points: config.joinAttemptsPerMinute * ADDRESS_ATTEMPTS_FACTOR, duration: 60 });
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
		return this.#options.readers.student(student.id);
	}

	/** The display name of a reader's student, for /api/session. */
	studentOf(reader: Reader): { id: string; name: string } | null {
		const student = this.#options.roster.get(reader.label);
		return student ? { id: student.id, name: student.name } : null;
	}

	/** Whether the request carries the instructor token (for /metrics). */
	async isInstructor(req: IncomingMessage): Promise<boolean> {
		const token = bearerToken(req);
		return token !== null && verifySecret(token, await this.#instructorTokenHash);
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
			return sendError(res, 'LAB_ERR_BAD_REQUEST', `${issue?.path.join('.') || 'request'}: ${issue?.message}`);
		}
		const address = clientAddress(req, this.#options.config.trustProxy);
		const existing = this.readerFor(req);
		if (existing) return sendJson(res, 200, this.studentOf(existing));
		// Only failures count: a whole class often joins from one address (the school's NAT), so each
		// name has its own allowance, and the address as a whole a larger one.
		const nameKey = `${address}\n${body.data.name.toLowerCase()}`;
		const retryIn = Math.max(await this.#blockedFor(this.#nameAttempts, nameKey), await this.#blockedFor(this.#addressAttempts, address));
		if (retryIn > 0) {
			this.#options.onJoinRefused?.('rate');
			return this.#tooMany(res, retryIn);
		}
		if (!(await verifySecret(body.data.code, await this.#joinCodeHash))) {
			this.#options.onJoinRefused?.('code');
			const waits = [await this.#countFailure(this.#nameAttempts, nameKey), await this.#countFailure(this.#addressAttempts, address)];
			this.#options.logger.info({ address, reason: 'code' }, 'join refused');
			const wait = Math.max(...waits.map((ms) => ms ?? 0));
			if (wait > 0) return this.#tooMany(res, wait);
			return sendError(res, 'LAB_ERR_JOIN_CODE');
		}
		const student = await this.#options.roster.join(body.data.name);
		if (!student) {
			this.#options.logger.info({ address, reason: 'full', seats: this.#options.roster.seats }, 'join refused');
			this.#options.onJoinRefused?.('full');
			return sendError(res, 'LAB_ERR_CLASS_FULL');
		}
		try {
			await this.#options.assignHost?.(student.id);
		} catch (error) {
			await this.#options.roster.remove(student.id);
			if (!(error instanceof LabError && error.code === 'LAB_ERR_POOL_FULL')) throw error;
			this.#options.logger.info({ address, reason: 'pool full' }, 'join refused');
			this.#options.onJoinRefused?.('pool');
			return sendError(res, error.code, error.message);
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
		const token = bearerToken(req);
		// A valid cookie is checked first: someone else's wrong tokens from this address never lock it out.
		const signedIn = !token && this.hasInstructorCookie(req);
		if (!signedIn) {
			const retryIn = await this.#blockedFor(this.#instructorAttempts, address);
			if (retryIn > 0) return this.#tooMany(res, retryIn);
		}
		if (!signedIn && (!token || !(await verifySecret(token, await this.#instructorTokenHash)))) {
			this.#options.logger.info({ address }, 'instructor authentication refused');
			// Only a wrong token counts: a missing header is a browser that was not signed in.
			const retryIn = token ? await this.#countFailure(this.#instructorAttempts, address) : null;
			if (retryIn !== null) return this.#tooMany(res, retryIn);
			res.setHeader('WWW-Authenticate', 'Bearer realm="podlab instructor"');
			return sendError(res, 'LAB_ERR_INSTRUCTOR_AUTH');
		}
		res.setHeader('Cache-Control', 'no-store');
		const path = pathname.slice('/api/instructor/'.length);
		for (const route of this.#routes) {
			const params = route.path.exec(path);
			if (!params || req.method !== route.method) continue;
			const named = route.path.source.includes(STUDENT_ID.source);
			const student = named ? this.#options.roster.get(params[1]!) : undefined;
			if (named && !student) return sendError(res, 'LAB_ERR_NOT_FOUND');
			return route.handle({ req, res, address, signedIn, student: student!, params: params.slice(1) });
		}
		sendError(res, 'LAB_ERR_NOT_FOUND');
	}

	/** The instructor API, after authentication: each route's method, path (after /api/instructor/) and handler. */
	readonly #routes: InstructorRoute[] = [
		{
			method: 'POST',
			path: route('session'),
			handle: ({ req, res, address }) => {
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
				sendJson(res, 200, { signedIn: true });
			},
		},
		{
			method: 'POST',
			path: route('broadcast'),
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
		{ method: 'GET', path: route('students'), handle: async ({ res }) => sendJson(res, 200, await this.#withLabs(this.#rosterView())) },
		{
			method: 'POST',
			path: route('reset'),
			handle: async ({ res }) => {
				const results: LabResetResult[] = [];
				// One at a time: each reset may make a lab when the warm pool runs dry, and a whole class at once would starve the box.
				for (const student of this.#options.roster.list()) results.push(await this.#reset(student.id));
				this.#options.logger.info({ action: 'reset every lab', students: results.length }, 'instructor action');
				this.events.rosterChanged();
				sendJson(res, 200, { students: results });
			},
		},
		{
			method: 'POST',
			path: route('students/:student/reset'),
			handle: async ({ res, student }) => {
				const result = await this.#reset(student.id);
				this.#options.logger.info({ student: student.id, action: 'reset lab', ms: result.ms }, 'instructor action');
				this.events.rosterChanged();
				sendJson(res, 200, result);
			},
		},
		{ method: 'GET', path: route('progress'), handle: ({ res }) => sendJson(res, 200, this.#progressView()) },
		{
			method: 'GET',
			path: route('events'),
			handle: ({ req, res, signedIn }) => {
				// A stream opened with the cookie ends with it (the page then asks to sign in again).
				const until = signedIn ? (this.#instructorCookieEnd(req) ?? Date.now()) : Number.POSITIVE_INFINITY;
				if (!this.events.subscribe(req, res, until)) sendError(res, 'LAB_ERR_SOCKET_LIMIT');
			},
		},
		{
			method: 'GET',
			path: route('students/:student/transcript.(json|csv)'),
			handle: ({ res, student, params: [, format] }) => {
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
		{ method: 'DELETE', path: route('students/:student/terminals'), handle: ({ res, student }) => this.#endStudent(res, student, false) },
		{ method: 'DELETE', path: route('students/:student'), handle: ({ res, student }) => this.#endStudent(res, student, true) },
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
		this.events.rosterChanged();
		sendJson(res, 200, { id: student.id, terminalsEnded: ended, seatFreed: freeSeat });
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

	/** Resets one student's lab. @throws {LabError} `LAB_ERR_RESET_UNSUPPORTED` when the backend cannot. */
	#reset(student: string): Promise<LabResetResult> {
		if (!this.#options.resetLab) throw new LabError('LAB_ERR_RESET_UNSUPPORTED');
		return this.#options.resetLab(this.#options.readers.student(student));
	}

	/** The roster with each student's lab of their own, asked of the backend (it reads the lab's cgroup). */
	async #withLabs(view: RosterResponse): Promise<RosterResponse> {
		const labStatusOf = this.#options.labStatusOf;
		if (!labStatusOf) return view;
		const students = await Promise.all(
			view.students.map(async (student): Promise<RosterStudent> => {
				const lab = await labStatusOf(student.id).catch(() => null);
				return { ...student, lab: lab && { ...lab } };
			}),
		);
		return { ...view, students };
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

	/** Ms until `key` may try again, or 0 when it has attempts left. */
	async #blockedFor(limiter: RateLimiterMemory, key: string): Promise<number> {
		const state = await limiter.get(key);
		return state && state.remainingPoints <= 0 ? Math.max(1, state.msBeforeNext) : 0;
	}

	/** Counts a failed attempt; returns ms until `key` may try again once it has none left. */
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
		sendError(res, 'LAB_ERR_JOIN_RATE', `Too many attempts from this address: try again in ${seconds} s.`, { retryAfterSeconds: seconds });
	}

	#sessionEnd(joinedAt: number): number {
		const classEnd = this.#options.config.classEndsAt ? Date.parse(this.#options.config.classEndsAt) : Number.POSITIVE_INFINITY;
		return Math.min(joinedAt + DEFAULT_SESSION_MS, classEnd);
	}

	/** Answers a request that threw: a {@link LabError} with its own code and message, anything else as internal. */
	#fail(res: ServerResponse, error: unknown): void {
		if (error instanceof LabError) {
			// A client's unreadable request is the client's business; anything else is the gateway's.
			if (error.code !== 'LAB_ERR_BAD_REQUEST') this.#options.logger.error({ err: error, code: error.code }, 'class API request failed');
			if (!res.headersSent) sendError(res, error.code, error.message);
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

/** What a route's handler gets: the request, the answer, who asks, and the student its path names. */
interface RouteContext {
	req: IncomingMessage;
	res: ServerResponse;
	address: string;
	/** Signed in with the cookie rather than the token. */
	signedIn: boolean;
	/** The student of a path with `:student` (an unknown one is answered 404 before the handler). */
	student: Student;
	/** The path's groups: the student's id first, when it has one. */
	params: string[];
}

interface InstructorRoute {
	method: 'GET' | 'POST' | 'DELETE';
	path: RegExp;
	handle(context: RouteContext): void | Promise<void>;
}

/** A route's path after /api/instructor/, with `:student` for a student's id and regular-expression groups. */
function route(path: string): RegExp {
	return new RegExp(`^${path.replaceAll('.', '\\.').replace(':student', `(${STUDENT_ID.source})`)}$`);
}
