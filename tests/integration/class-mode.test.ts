/**
 * Class mode against the real gateway: joining with the code, signed student cookies, seats, the
 * join rate limit, the instructor API, and what survives a gateway restart.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinClass as joinAs, TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { terminalPids } from '../helpers/processes.ts';

const JOIN_CODE = 'kube-pods-2026';
const TOKEN = 'instructor-3f9c1a7e5b2d4f60a8c9';
const stateDir = mkdtempSync(join(tmpdir(), 'podlab-class-'));
const classEnv = {
	PODLAB_MODE: 'class',
	// Students share this machine's lab: the knowing choice that class mode on the local backend needs.
	PODLAB_ALLOW_SHARED_LAB: '1',
	PODLAB_JOIN_CODE: JOIN_CODE,
	PODLAB_INSTRUCTOR_TOKEN: TOKEN,
	PODLAB_SEATS: '3',
	PODLAB_JOIN_ATTEMPTS_PER_MINUTE: '4',
	PODLAB_STATE_DIR: stateDir,
};

let gateway: RunningGateway;
const allLogs: string[] = [];
const cookies: Record<string, string> = {};
beforeAll(async () => {
	gateway = await startGateway(classEnv);
});
afterAll(async () => {
	await gateway?.stop();
});

async function joinClass(name: string, code = JOIN_CODE, headers: Record<string, string> = {}) {
	const { status, body, setCookie, headers: responseHeaders } = await joinAs(gateway, name, code, headers);
	return { status, body, cookie: setCookie, headers: responseHeaders };
}

function instructor(path: string, init: RequestInit = {}, token = TOKEN) {
	return fetch(`${gateway.url}api/instructor/${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } });
}

describe('joining', () => {
	it('asks for the join step before anything else', async () => {
		const response = await fetch(`${gateway.url}api/session`);
		expect(response.status).toBe(401);
		expect(await response.json()).toEqual({
			code: 'LAB_ERR_JOIN_REQUIRED',
			message: 'Join the class first: open /join/ and enter the code your trainer gave you.',
		});
		const refused = await TestClient.connect(gateway, { cookie: 'podlab_student=forged.token' }).catch((error: Error) => error);
		expect(String(refused)).toContain('upgrade refused: 401');
		expect(terminalPids(gateway)).toEqual([]);
	});

	it('refuses a foreign origin at the upgrade, even with a valid student cookie', async () => {
		const { cookie } = await joinClass('Eve');
		const studentCookie = cookie!.split(';')[0]!;
		const refused = await TestClient.connect(gateway, { cookie: studentCookie, origin: 'https://podlab.example.evil' }).catch((error: Error) => error);
		expect(String(refused)).toContain('upgrade refused: 403');
		const { students } = await (await instructor('students')).json();
		await instructor(`students/${students.find((student: { name: string }) => student.name === 'Eve').id}`, { method: 'DELETE' });
		expect(terminalPids(gateway)).toEqual([]);
	});

	it('refuses a wrong code', async () => {
		const result = await joinClass('Ada', 'kube-pods-2025');
		expect(result).toMatchObject({ status: 403, body: { code: 'LAB_ERR_JOIN_CODE' }, cookie: null });
	});

	it('lets a student join with the code and gives a signed, strict cookie', async () => {
		const result = await joinClass('  Ada   Lovelace ');
		expect(result.status).toBe(200);
		expect(result.body).toEqual({ id: expect.stringMatching(/^s[0-9a-f]{12}$/), name: 'Ada Lovelace' });
		expect(result.cookie).toMatch(/^podlab_student=[\w-]+\.[\w-]+; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Strict$/);
		const cookie = result.cookie!.split(';')[0]!;
		const session = await (await fetch(`${gateway.url}api/session`, { headers: { cookie } })).json();
		expect(session).toEqual({ mode: 'class', student: { id: result.body.id, name: 'Ada Lovelace' }, terminals: [] });
		const client = await TestClient.connect(gateway, { cookie });
		expect(await client.run('echo "hello from $PODLAB_TERM"', 'lab-check:1')).toEqual({ t: 'done', block: 'lab-check:1', exit: 0 });
		client.close();
	});

	it('refuses a tampered cookie', async () => {
		const { cookie } = await joinClass('Grace');
		cookies.grace = cookie!.split(';')[0]!;
		const [name, value] = cookie!.split(';')[0]!.split('=');
		const [body, signature] = value!.split('.');
		const payload = JSON.parse(Buffer.from(body!, 'base64url').toString());
		const forgedBody = Buffer.from(JSON.stringify({ ...payload, sub: 's000000000000' })).toString('base64url');
		const forged = `${name}=${forgedBody}.${signature}`;
		expect((await fetch(`${gateway.url}api/session`, { headers: { cookie: forged } })).status).toBe(401);
	});

	it('keeps students apart: the same terminal name is another shell', async () => {
		const linus = await TestClient.connect(gateway, { cookie: (await joinClass('Linus')).cookie!.split(';')[0]! });
		const grace = await TestClient.connect(gateway, { cookie: cookies.grace });
		await linus.run('echo "shell=$$ secret-of-linus"', 'a');
		await grace.run('echo "shell=$$"', 'b');
		const shellOf = (client: TestClient) => /\nshell=(\d+)/.exec(client.plainText)![1];
		expect(shellOf(linus)).not.toBe(shellOf(grace));
		expect(grace.plainText).not.toContain('secret-of-linus');
		linus.close();
		grace.close();
	});

	it('says when the class is full', async () => {
		// Ada, Grace and Linus hold the three seats.
		const result = await joinClass('Dennis');
		expect(result).toMatchObject({ status: 409, body: { code: 'LAB_ERR_CLASS_FULL', message: 'The class is full: ask your trainer to free a seat.' } });
	});
});

describe('the instructor API', () => {
	it('refuses requests without the token, with a wrong one, or with the token in the URL', async () => {
		expect((await fetch(`${gateway.url}api/instructor/students`)).status).toBe(401);
		expect((await instructor('students', {}, 'not-the-token-at-all')).status).toBe(401);
		const inUrl = await fetch(`${gateway.url}api/instructor/students?token=${TOKEN}`);
		expect(inUrl.status).toBe(401);
		expect(await inUrl.json()).toMatchObject({ code: 'LAB_ERR_INSTRUCTOR_AUTH' });
	});

	it('lists students with their terminals, activity and last run', async () => {
		const response = await instructor('students');
		expect(response.status).toBe(200);
		const { seats, students } = await response.json();
		expect(seats).toEqual({ taken: 3, total: 3 });
		expect(students.map((student: { name: string }) => student.name)).toEqual(['Ada Lovelace', 'Grace', 'Linus']);
		expect(students[0]).toMatchObject({
			lastRun: { block: 'lab-check:1', exit: 0, at: expect.any(String) },
			terminals: [{ name: 'main', busy: false }],
			labHost: null,
		});
	});

	it('ends a student’s terminals, then frees the seat', async () => {
		const { students } = await (await instructor('students')).json();
		const linus = students.find((student: { name: string }) => student.name === 'Linus');
		const ended = await instructor(`students/${linus.id}/terminals`, { method: 'DELETE' });
		expect(await ended.json()).toEqual({ id: linus.id, terminalsEnded: 1, seatFreed: false });
		const freed = await instructor(`students/${linus.id}`, { method: 'DELETE' });
		expect(await freed.json()).toEqual({ id: linus.id, terminalsEnded: 0, seatFreed: true });
		expect((await joinClass('Dennis')).status).toBe(200);
		expect((await instructor('students/s000000000000', { method: 'DELETE' })).status).toBe(404);
	});
});

describe('across a restart', () => {
	it('keeps the roster and the students’ cookies', async () => {
		const { cookie } = await joinClass('Barbara').then((result) => result);
		expect(cookie).toBeNull(); // the class is full again (Ada, Grace, Dennis)
		const ada = (await (await instructor('students')).json()).students[0];
		allLogs.push(gateway.logs());
		await gateway.stop();
		gateway = await startGateway(classEnv);
		const after = await (await instructor('students')).json();
		expect(after.students.map((student: { id: string }) => student.id)).toContain(ada.id);
		expect(after.students[0]).toMatchObject({ name: 'Ada Lovelace', lastRun: { block: 'lab-check:1', exit: 0 } });
	});
});

describe('the join rate limit', () => {
	it('says how long to wait after too many wrong codes', async () => {
		const statuses: number[] = [];
		let last;
		for (let attempt = 0; attempt < 6; attempt++) {
			last = await joinClass('Mallory', `guess-${attempt}`);
			statuses.push(last.status);
		}
		// Four failures a minute are allowed (the restart above forgot the earlier one).
		expect(statuses).toEqual([403, 403, 403, 403, 429, 429]);
		expect(last!.body.message).toMatch(/^Too many attempts from this address: try again in \d+ s\.$/);
		expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
		// Even the right code waits now: the limit is on the address, not on the guess.
		expect((await joinClass('Mallory', JOIN_CODE)).status).toBe(429);
	});

	it('counts the refused joins by reason in /metrics, for the instructor token only', async () => {
		expect((await fetch(`${gateway.url}metrics`)).status).toBe(401);
		const text = await (await fetch(`${gateway.url}metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
		// Since the restart: four wrong codes, then three attempts while blocked.
		expect(text).toMatch(/^podlab_joins_refused_total\{reason="code"\} 4$/m);
		expect(text).toMatch(/^podlab_joins_refused_total\{reason="rate"\} 3$/m);
	});

	it('never wrote a secret to the logs', () => {
		const logs = allLogs.join('\n') + gateway.logs();
		expect(logs).toContain('student joined');
		expect(logs).not.toContain(JOIN_CODE);
		expect(logs).not.toContain(TOKEN);
		expect(logs).not.toMatch(/podlab_student=/);
	});
});
