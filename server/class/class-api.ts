/**
 * Class mode over HTTP: students join with the class code and get a signed cookie; the instructor
 * API (bearer token in the Authorization header, never in a URL) lists students and ends their
 * terminals or frees their seats. This file authenticates; instructor-routes.ts answers.
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
import type { Logger } from 'pino';
import { z } from 'zod';
import { hashSecret, verifySecret } from '../auth/secret-hash.ts';
import type { Config } from '../config.ts';
import type { Reader, ReaderRegistry } from '../readers.ts';
import type { StudentLabStatus } from '../backends/backend.ts';
import { LabError, type LabResetResult } from '../../src/protocol.ts';
import { AttemptLimit, sendTooMany } from './attempt-limit.ts';
import { cookieStudentId, instructorCookieEnd, SESSION_MS, studentCookie } from './class-cookies.ts';
import { progressView, rosterView } from './class-views.ts';
import { InstructorEvents } from './instructor-events.ts';
import { InstructorRoutes } from './instructor-routes.ts';
import { displayName, type Roster } from './roster.ts';
import type { RunLog } from './run-log.ts';
import { bearerToken, clientAddress, isHttps, readJsonBody, sendError, sendJson } from '../http-util.ts';

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
	readonly #nameAttempts: AttemptLimit;
	readonly #addressAttempts: AttemptLimit;
	/** Wrong instructor tokens, per client address, counted apart so they cannot lock students out. */
	readonly #instructorAttempts: AttemptLimit;
	/** The instructor page's live feed. */
	readonly events: InstructorEvents;
	readonly #routes: InstructorRoutes;

	constructor(options: ClassApiOptions) {
		this.#options = options;
		const { config } = options;
		// Secrets given in plain text (environment) are hashed once, so every check takes the same path.
		this.#joinCodeHash = config.joinCodeHash ? Promise.resolve(config.joinCodeHash) : hashSecret(config.joinCode!);
		this.#instructorTokenHash = config.instructorTokenHash ? Promise.resolve(config.instructorTokenHash) : hashSecret(config.instructorToken!);
		this.#nameAttempts = new AttemptLimit(config.joinAttemptsPerMinute);
		this.#addressAttempts = new AttemptLimit(config.joinAttemptsPerMinute * ADDRESS_ATTEMPTS_FACTOR);
		this.#instructorAttempts = new AttemptLimit(config.joinAttemptsPerMinute);
		this.events = new InstructorEvents({ roster: () => rosterView(options), progress: () => progressView(options.roster, options.runLog) });
		this.#routes = new InstructorRoutes(options, this.events);
	}

	/** The joined student's reader for this request, or null (no cookie, forged, expired, or seat freed). */
	readerFor(req: IncomingMessage): Reader | null {
		const studentId = cookieStudentId(req, this.#options.key);
		if (studentId === null) return null;
		const student = this.#options.roster.get(studentId);
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
		return instructorCookieEnd(req, this.#options.key) !== null;
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
		const retryIn = Math.max(await this.#nameAttempts.blockedFor(nameKey), await this.#addressAttempts.blockedFor(address));
		if (retryIn > 0) {
			this.#options.onJoinRefused?.('rate');
			return sendTooMany(res, retryIn);
		}
		if (!(await verifySecret(body.data.code, await this.#joinCodeHash))) {
			this.#options.onJoinRefused?.('code');
			const waits = [await this.#nameAttempts.countFailure(nameKey), await this.#addressAttempts.countFailure(address)];
			this.#options.logger.info({ address, reason: 'code' }, 'join refused');
			const wait = Math.max(...waits.map((ms) => ms ?? 0));
			if (wait > 0) return sendTooMany(res, wait);
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
		res.setHeader('Set-Cookie', studentCookie(student.id, expires, this.#options.key, isHttps(req, this.#options.config.trustProxy)));
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
			const retryIn = await this.#instructorAttempts.blockedFor(address);
			if (retryIn > 0) return sendTooMany(res, retryIn);
		}
		if (!signedIn && (!token || !(await verifySecret(token, await this.#instructorTokenHash)))) {
			this.#options.logger.info({ address }, 'instructor authentication refused');
			// Only a wrong token counts: a missing header is a browser that was not signed in.
			const retryIn = token ? await this.#instructorAttempts.countFailure(address) : null;
			if (retryIn !== null) return sendTooMany(res, retryIn);
			res.setHeader('WWW-Authenticate', 'Bearer realm="podlab instructor"');
			return sendError(res, 'LAB_ERR_INSTRUCTOR_AUTH');
		}
		res.setHeader('Cache-Control', 'no-store');
		return this.#routes.serve(req, res, pathname.slice('/api/instructor/'.length), { address, signedIn });
	}

	#sessionEnd(joinedAt: number): number {
		const classEnd = this.#options.config.classEndsAt ? Date.parse(this.#options.config.classEndsAt) : Number.POSITIVE_INFINITY;
		return Math.min(joinedAt + SESSION_MS, classEnd);
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
