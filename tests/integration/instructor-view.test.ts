/**
 * The instructor's seat at the protocol level: signing in once for a cookie, watching a student's
 * terminal (read-only, enforced by the gateway), taking over, handing back, and broadcasting.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
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

/** The students' home, with a ~/.bashrc that keeps history as Debian's does: HISTCONTROL=ignoreboth. */
function studentHome(): string {
	const home = mkdtempSync(join(tmpdir(), 'podlab-home-'));
	writeFileSync(join(home, '.bashrc'), 'HISTCONTROL=ignoreboth\n');
	return home;
}

const env = {
	PODLAB_MODE: 'class',
	// Students share this machine's lab: the knowing choice that class mode on the local backend needs.
	PODLAB_ALLOW_SHARED_LAB: '1',
	PODLAB_JOIN_CODE: 'watch-me',
	PODLAB_INSTRUCTOR_TOKEN: TOKEN,
	PODLAB_STATE_DIR: mkdtempSync(join(tmpdir(), 'podlab-view-')),
	HOME: studentHome(),
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
	type Run = { block: string | null; command: string; exit: number; page: string | null; term: string };
	const transcript = async (): Promise<Run[]> => (await (await fetch(`${gateway.url}api/instructor/students/${studentId}/transcript.json`, asInstructor)).json()).runs;

	/** Types a line into the student's shell and waits for the prompt after it (the shell has said how it ended). */
	async function typeLine(keys: string): Promise<void> {
		const prompts = () => student.text.split('\x1b]133;A;').length;
		const before = prompts();
		student.type(keys);
		await student.waitFor(() => prompts() > before || undefined, 10_000, `the prompt after ${JSON.stringify(keys)}`);
	}

	it('show every block a student ran, with its exit status', async () => {
		await student.run('(exit 4)', 'chapters/pause:2');
		const { students } = await (await fetch(`${gateway.url}api/instructor/progress`, asInstructor)).json();
		const ada = students.find((entry: { id: string }) => entry.id === studentId);
		expect(ada.blocks).toMatchObject({ r: { exit: 0 }, size: { exit: 0 }, 'chapters/pause:2': { exit: 4 } });
		const csv = await (await fetch(`${gateway.url}api/instructor/students/${studentId}/transcript.csv`, asInstructor)).text();
		expect(csv.split('\n')[0]).toBe('time,page,block,terminal,exit,command');
		expect(csv).toMatch(/^\d{4}-\d\d-\d\dT[^,]+,,chapters\/pause:2,main,4,\(exit 4\)$/m);
		const blocks = (await transcript()).filter((run) => run.block !== null);
		expect(blocks.map((run) => [run.block, run.command])).toEqual([
			['r', 'echo ready'],
			['size', 'stty size'],
			['chapters/pause:2', '(exit 4)'],
		]);
	});

	it('show the commands a student typed, as typed, with their exit status', async () => {
		const before = (await transcript()).length;
		await typeLine('echo typed-one\r');
		await typeLine('echo typed-one\r');
		await typeLine('false\r');
		await typeLine('\r');
		await typeLine(String.raw`printf '\033]133;E;forged;nonce=wrong\007' # a\b;c` + '\r');
		await typeLine('\x1b[200~echo pasted-1\necho pasted-2\x1b[201~\r');
		const runs = (await transcript()).slice(before);
		expect(runs.map(({ block, command, exit }) => ({ block, command, exit }))).toEqual([
			// Repeats count: podlab.bashrc drops the ignoredups that this ~/.bashrc asks for.
			{ block: null, command: 'echo typed-one', exit: 0 },
			{ block: null, command: 'echo typed-one', exit: 0 },
			{ block: null, command: 'false', exit: 1 },
			// The empty line is not there; the forged marker neither, only the command that printed it.
			{ block: null, command: String.raw`printf '\033]133;E;forged;nonce=wrong\007' # a\b;c`, exit: 0 },
			// Lines pasted together end at one prompt: one entry.
			{ block: null, command: 'echo pasted-1\necho pasted-2', exit: 0 },
		]);
		expect(runs[0]).toMatchObject({ term: 'main', page: null });
		const csv = await (await fetch(`${gateway.url}api/instructor/students/${studentId}/transcript.csv`, asInstructor)).text();
		expect(csv).toMatch(/^\d{4}-\d\d-\d\dT[^,]+,,,main,1,false$/m);
		expect(csv).toContain(',,,main,0,"echo pasted-1\necho pasted-2"\n');
	});

	it('leave out a line typed with a leading space (ignorespace), and put nothing in its place', async () => {
		await typeLine('echo before-secret\r');
		const before = (await transcript()).length;
		await typeLine(' echo secret-space\r');
		await student.waitForText('\nsecret-space\n');
		await typeLine('echo after-secret\r');
		expect((await transcript()).slice(before).map((run) => run.command)).toEqual(['echo after-secret']);
	});

	it('show a block once, with its code, however many lines it has', async () => {
		const before = (await transcript()).length;
		expect(await student.run('echo block-1\necho block-2', 'chapters/pause:5')).toMatchObject({ exit: 0 });
		expect((await transcript()).slice(before).map(({ block, command, exit }) => ({ block, command, exit }))).toEqual([
			{ block: 'chapters/pause:5', command: 'echo block-1\necho block-2', exit: 0 },
		]);
	});

	it('survive a gateway restart', async () => {
		await gateway.stop();
		gateway = await startGateway(env);
		const { students } = await (await fetch(`${gateway.url}api/instructor/progress`, asInstructor)).json();
		expect(students.find((entry: { id: string }) => entry.id === studentId).blocks['chapters/pause:2']).toMatchObject({ exit: 4 });
		expect(await transcript()).toContainEqual(expect.objectContaining({ block: null, command: 'false', exit: 1 }));
	});
});
