/**
 * Class mode's signed cookies: a joined student's (`podlab_student`) and the instructor's
 * (`podlab_instructor`, for the token given once). Both are HttpOnly and SameSite=Strict, signed with
 * the state directory's key so they survive a gateway restart.
 */
import type { IncomingMessage } from 'node:http';
import { parseCookie, stringifySetCookie } from 'cookie';
import { signToken, verifyToken } from '../auth/signed-token.ts';

export const STUDENT_COOKIE = 'podlab_student';
export const INSTRUCTOR_COOKIE = 'podlab_instructor';
/** How long a sign-in lasts at most: a long class day. */
export const SESSION_MS = 12 * 3_600_000;

/** The student id in the request's student cookie, or null (no cookie, forged or expired). */
export function cookieStudentId(req: IncomingMessage, key: Buffer): string | null {
	return verifyToken(parseCookie(req.headers.cookie ?? '')[STUDENT_COOKIE], key, 'student')?.sub ?? null;
}

/** When the request's instructor cookie expires (epoch ms), or null without a valid one. */
export function instructorCookieEnd(req: IncomingMessage, key: Buffer): number | null {
	return verifyToken(parseCookie(req.headers.cookie ?? '')[INSTRUCTOR_COOKIE], key, 'instructor')?.exp ?? null;
}

/** The Set-Cookie header of a joined student, valid until `expires` (epoch ms). */
export function studentCookie(student: string, expires: number, key: Buffer, secure: boolean): string {
	return stringifySetCookie({
		name: STUDENT_COOKIE,
		value: signToken({ sub: student, aud: 'student', exp: expires }, key),
		httpOnly: true,
		sameSite: 'strict',
		secure,
		path: '/',
		expires: new Date(expires),
	});
}

/** The Set-Cookie header of the signed-in instructor, valid for {@link SESSION_MS} from `now`. */
export function instructorCookie(key: Buffer, secure: boolean, now = Date.now()): string {
	return stringifySetCookie({
		name: INSTRUCTOR_COOKIE,
		value: signToken({ sub: 'instructor', aud: 'instructor', exp: now + SESSION_MS }, key),
		httpOnly: true,
		sameSite: 'strict',
		secure,
		path: '/',
	});
}
