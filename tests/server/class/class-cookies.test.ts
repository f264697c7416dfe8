import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { cookieStudentId, instructorCookie, instructorCookieEnd, SESSION_MS, studentCookie } from '../../../server/class/class-cookies.ts';

const key = Buffer.alloc(32, 7);
/** A request carrying the cookie a Set-Cookie header set. */
const requestWith = (...setCookies: string[]) => ({ headers: { cookie: setCookies.map((header) => header.split(';')[0]).join('; ') } }) as IncomingMessage;

describe('the student cookie', () => {
	it('names the student until it expires, HttpOnly and SameSite=Strict', () => {
		const expires = Date.now() + 60_000;
		const header = studentCookie('s0123456789ab', expires, key, true);
		expect(header).toMatch(/^podlab_student=[\w-]+\.[\w-]+; Path=\/; Expires=.+; HttpOnly; Secure; SameSite=Strict$/);
		expect(cookieStudentId(requestWith(header), key)).toBe('s0123456789ab');
		expect(cookieStudentId(requestWith(studentCookie('s0123456789ab', Date.now() - 1, key, false)), key)).toBeNull();
	});

	it('is refused when signed with another key, or missing', () => {
		expect(cookieStudentId(requestWith(studentCookie('s0123456789ab', Date.now() + 60_000, Buffer.alloc(32, 8), false)), key)).toBeNull();
		expect(cookieStudentId({ headers: {} } as IncomingMessage, key)).toBeNull();
	});
});

describe('the instructor cookie', () => {
	it('lasts a session, and is not taken for a student’s', () => {
		const now = Date.now();
		const header = instructorCookie(key, false, now);
		expect(header).toMatch(/^podlab_instructor=[\w-]+\.[\w-]+; Path=\/; HttpOnly; SameSite=Strict$/);
		expect(instructorCookieEnd(requestWith(header), key)).toBe(now + SESSION_MS);
		expect(instructorCookieEnd(requestWith(studentCookie('s0123456789ab', now + 60_000, key, false)), key)).toBeNull();
		const asStudent = header.replace('podlab_instructor=', 'podlab_student=');
		expect(cookieStudentId(requestWith(asStudent), key)).toBeNull();
	});
});
