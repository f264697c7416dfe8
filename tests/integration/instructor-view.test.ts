/**
 * The instructor's seat at the protocol level: signing in once for a cookie, watching a student's
 * terminal (read-only, enforced by the gateway), taking over, handing back, and broadcasting.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinClass, TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';

const TOKEN = 'instructor-view-token-0123456789';
let gateway: RunningGateway;
let student: TestClient;
let studentId: string;
let instructorCookie: string;

const env = {
	PODLAB_MODE: 'class',
	PODLAB_JOIN_CODE: 'watch-me',
	PODLAB_INSTRUCTOR_TOKEN: TOKEN,
	PODLAB_STATE_DIR: mkdtempSync(join(tmpdir(), 'podlab-view-')),
};

beforeAll(async () => {
	gateway = await startGateway(env);
	const joined = await joinClass(gateway, 'Ada', 'watch-me');
	studentId = joined.body.id!;
	student = await TestClient.connect(gateway, { cookie: joined.cookie! });
	await student.run('echo ready', 'r');
});
afterAll(async () => {
	await gateway?.stop();
});

/** The instructor's socket, watching the student's `term`. */
function watch(term = 'main', cookie = instructorCookie): Promise<TestClient> {
	return TestClient.connect(gateway, { cookie, attach: { student: studentId, term } });
}

describe('the instructor', () => {
	it('signs in once with the token for an HttpOnly cookie', async () => {
		expect((await fetch(`${gateway.url}api/instructor/session`, { method: 'POST', headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
		const response = await fetch(`${gateway.url}api/instructor/session`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
		expect(response.status).toBe(200);
		const cookie = response.headers.get('set-cookie')!;
		expect(cookie).toMatch(/^podlab_instructor=[\w-]+\.[\w-]+; Path=\/; HttpOnly; SameSite=Strict$/);
		instructorCookie = cookie.split(';')[0]!;
		// The cookie opens the instructor API without the token.
		expect((await fetch(`${gateway.url}api/instructor/students`, { headers: { cookie: instructorCookie } })).status).toBe(200);
	});

	it('watches a student’s terminal live, with what came before', async () => {
		const viewer = await watch();
		expect(viewer.messages[0]).toMatchObject({ t: 'ready', term: 'main', offset: 0 });
		await viewer.waitForText('\nready\n');
		student.type('echo "typed by Ada"\r');
		await viewer.waitForText('\ntyped by Ada\n');
		viewer.close();
	});

	it('cannot type, resize or run while watching: the gateway refuses with LAB_ERR_READ_ONLY', async () => {
		const viewer = await watch();
		const before = viewer.messages.length;
		viewer.type('echo "from the viewer"\r');
		viewer.send({ t: 'resize', cols: 40, rows: 10 });
		viewer.send({ t: 'run', code: 'echo ran', block: 'x' });
		await viewer.waitFor(() => viewer.messages.slice(before).filter((m) => m.t === 'error').length === 3 || undefined, 5000, 'three refusals');
		expect(viewer.messages.slice(before).filter((m) => m.t === 'error')).toEqual(
			Array(3).fill({ t: 'error', code: 'LAB_ERR_READ_ONLY', message: 'You are watching this terminal: take over to type into it.' }),
		);
		await student.run('stty size', 'size');
		expect(student.plainText).not.toContain('from the viewer');
		expect(student.plainText).not.toMatch(/\n10 40\n/);
		expect(viewer.closeCode).toBeNull();
		viewer.close();
	});

	it('takes over: the student is told, the instructor types, and leaving hands it back', async () => {
		const viewer = await watch();
		const from = student.messages.length;
		viewer.send({ t: 'takeover', on: true });
		expect(await student.waitForMessage('takeover', 5000, from)).toEqual({ t: 'takeover', on: true });
		viewer.type('echo "the instructor typed this"\r');
		await student.waitForText('\nthe instructor typed this\n');
		viewer.close();
		await student.waitFor(() => student.messages.slice(from).some((m) => m.t === 'takeover' && !m.on) || undefined, 5000, 'take-over off');
	});

	it('is the only one who may watch', async () => {
		const eve = (await joinClass(gateway, 'Eve', 'watch-me')).cookie!;
		const refused = await TestClient.connect(gateway, { cookie: eve, attach: { student: studentId, term: 'main' } }).catch((error: Error) => error);
		expect(refused).toMatchObject({ code: 'LAB_ERR_FORBIDDEN', closeCode: 1008 });
		const forged = await TestClient.connect(gateway, { cookie: 'podlab_instructor=x.y', attach: { student: studentId, term: 'main' } }).catch((error: Error) => error);
		expect(String(forged)).toContain('upgrade refused: 401');
	});

	it('cannot start a terminal by watching one that does not exist', async () => {
		const refused = await watch('logs').catch((error: Error) => error);
		expect(refused).toMatchObject({ code: 'LAB_ERR_NO_SUCH_TERMINAL', closeCode: 4006 });
	});

	it('broadcasts a message to every student with a terminal', async () => {
		const from = student.messages.length;
		const response = await fetch(`${gateway.url}api/instructor/broadcast`, {
			method: 'POST',
			headers: { cookie: instructorCookie, 'content-type': 'application/json' },
			body: JSON.stringify({ text: 'Break until 11:00' }),
		});
		expect(await response.json()).toEqual({ delivered: 1 });
		expect(await student.waitForMessage('notice', 5000, from)).toEqual({ t: 'notice', text: 'Break until 11:00' });
	});
});

describe('progress and transcripts', () => {
	const asInstructor = { headers: { authorization: `Bearer ${TOKEN}` } };

	it('show every block a student ran, with its exit status', async () => {
		await student.run('(exit 4)', 'chapters/pause:2');
		const { students } = await (await fetch(`${gateway.url}api/instructor/progress`, asInstructor)).json();
		const ada = students.find((entry: { id: string }) => entry.id === studentId);
		expect(ada.blocks).toMatchObject({ r: { exit: 0 }, size: { exit: 0 }, 'chapters/pause:2': { exit: 4 } });
		const csv = await (await fetch(`${gateway.url}api/instructor/students/${studentId}/transcript.csv`, asInstructor)).text();
		expect(csv.split('\n')[0]).toBe('time,block,terminal,exit');
		expect(csv).toMatch(/^\d{4}-\d\d-\d\dT[^,]+,chapters\/pause:2,main,4$/m);
		const json = await (await fetch(`${gateway.url}api/instructor/students/${studentId}/transcript.json`, asInstructor)).json();
		expect(json.runs.map((run: { block: string }) => run.block)).toEqual(['r', 'size', 'chapters/pause:2']);
	});

	it('survive a gateway restart', async () => {
		await gateway.stop();
		gateway = await startGateway(env);
		const { students } = await (await fetch(`${gateway.url}api/instructor/progress`, asInstructor)).json();
		expect(students.find((entry: { id: string }) => entry.id === studentId).blocks['chapters/pause:2']).toMatchObject({ exit: 4 });
	});
});
