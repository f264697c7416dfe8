/**
 * What the instructor page is fed: the live event stream (roster and board at connect, each run as
 * it ends, joins and the students' pages), the size of a watched terminal, and the Origin check on
 * requests that change something.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinClass, TestClient, type ClientOptions } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';

const TOKEN = 'instructor-feed-token-0123456789';
const CODE = 'feed-me';
let gateway: RunningGateway;
let cookie: string;

beforeAll(async () => {
	gateway = await startGateway({
		PODLAB_MODE: 'class',
		// Students share this machine's lab: the knowing choice that class mode on the local backend needs.
		PODLAB_ALLOW_SHARED_LAB: '1',
		PODLAB_JOIN_CODE: CODE,
		PODLAB_INSTRUCTOR_TOKEN: TOKEN,
		PODLAB_STATE_DIR: mkdtempSync(join(tmpdir(), 'podlab-feed-')),
	});
	const session = await fetch(`${gateway.url}api/instructor/session`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
	cookie = session.headers.get('set-cookie')!.split(';')[0]!;
});
afterAll(async () => {
	await gateway?.stop();
});

interface FeedEvent {
	event: string;
	data: unknown;
}

/** GET /api/instructor/events, parsed as Server-Sent Events as they arrive. */
async function openFeed(headers: Record<string, string> = { cookie }) {
	const controller = new AbortController();
	const response = await fetch(`${gateway.url}api/instructor/events`, { headers, signal: controller.signal });
	const events: FeedEvent[] = [];
	let buffer = '';
	const reading = (async () => {
		const decoder = new TextDecoder();
		for await (const chunk of response.body!) {
			buffer += decoder.decode(chunk, { stream: true });
			let end;
			while ((end = buffer.indexOf('\n\n')) >= 0) {
				const block = buffer.slice(0, end);
				buffer = buffer.slice(end + 2);
				const event = /^event: (.+)$/m.exec(block)?.[1];
				const data = /^data: (.+)$/m.exec(block)?.[1];
				if (event && data) events.push({ event, data: JSON.parse(data) });
			}
		}
	})().catch(() => {});
	return {
		response,
		events,
		async next(event: string, match: (data: any) => boolean = () => true, timeoutMs = 5_000): Promise<any> {
			const deadline = Date.now() + timeoutMs;
			while (Date.now() < deadline) {
				const found = events.find((candidate) => candidate.event === event && match(candidate.data));
				if (found) return found.data;
				await new Promise((resolve) => setTimeout(resolve, 20));
			}
			throw new Error(`no "${event}" event within ${timeoutMs} ms; got: ${events.map((e) => e.event).join(', ')}`);
		},
		close: async () => {
			controller.abort();
			await reading;
		},
	};
}

/** A student joined with `main` open, and a way for the instructor to watch that terminal. */
async function joinedStudent(name: string) {
	const joined = await joinClass(gateway, name, CODE);
	const id = joined.body.id!;
	const student = await TestClient.connect(gateway, { cookie: joined.cookie! });
	const watch = (options: ClientOptions = {}) => TestClient.connect(gateway, { cookie, ...options, attach: { student: id, ...options.attach } });
	return { id, cookie: joined.cookie!, student, watch };
}

/** Waits until `client` has been told that the take-over is `on` (or off). */
function toldTakeover(client: TestClient, on: boolean): Promise<unknown> {
	return client.waitFor(() => client.messages.some((m) => m.t === 'takeover' && m.on === on) || undefined, 5_000, `takeover ${on ? 'on' : 'off'}`);
}

describe('the instructor’s live feed', () => {
	it('refuses anyone without the instructor cookie or token, a student included', async () => {
		const response = await fetch(`${gateway.url}api/instructor/events`);
		expect(response.status).toBe(401);
		expect(await response.json()).toMatchObject({ code: 'LAB_ERR_INSTRUCTOR_AUTH' });
		const student = await joinClass(gateway, 'Mallory', CODE);
		expect((await fetch(`${gateway.url}api/instructor/events`, { headers: { cookie: student.cookie! } })).status).toBe(401);
		await fetch(`${gateway.url}api/instructor/students/${student.body.id}`, { method: 'DELETE', headers: { cookie } });
	});

	it('sends the roster and the board at connect, then joins, pages and runs as they happen', async () => {
		const feed = await openFeed();
		expect(feed.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
		expect(feed.response.headers.get('cache-control')).toBe('no-store');
		expect((await feed.next('roster')).students).toEqual([]);
		expect(await feed.next('progress')).toEqual({ students: [] });

		const joined = await joinClass(gateway, 'Grace', CODE);
		const id = joined.body.id!;
		const roster = await feed.next('roster', (data) => data.students.length === 1);
		expect(roster.students[0]).toMatchObject({ id, name: 'Grace', connected: false, page: null, terminals: [] });

		const student = await TestClient.connect(gateway, { cookie: joined.cookie!, attach: { page: '/chapters/pause/' } });
		const connected = await feed.next('roster', (data) => data.students[0]?.connected === true && data.students[0].terminals.length === 1);
		expect(connected.students[0]).toMatchObject({ page: '/chapters/pause/', terminals: [{ name: 'main', busy: false }] });

		const sent = Date.now();
		await student.run('(exit 4)', 'chapters/pause:2');
		const run = await feed.next('run', (data) => data.block === 'chapters/pause:2', 2_000);
		expect(run).toMatchObject({ student: id, block: 'chapters/pause:2', term: 'main', exit: 4 });
		expect(Date.now() - sent).toBeLessThan(2_000);
		await feed.close();

		// A new connection gets the board with that run in it.
		const again = await openFeed();
		expect(await again.next('progress')).toMatchObject({ students: [{ id, blocks: { 'chapters/pause:2': { exit: 4 } } }] });
		await again.close();
		student.close();
	});

	it('drops a page that is not a plain path, without refusing the terminal', async () => {
		const joined = await joinClass(gateway, 'Linus', CODE);
		const student = await TestClient.connect(gateway, { cookie: joined.cookie!, attach: { page: '/"><script>alert(1)</script>' } });
		expect(student.closeCode).toBeNull();
		const roster = await (await fetch(`${gateway.url}api/instructor/students`, { headers: { cookie } })).json();
		expect(roster.students.find((s: { id: string }) => s.id === joined.body.id)).toMatchObject({ page: null, terminals: [{ name: 'main' }] });
		student.close();
	});
});

describe('watching a student', () => {
	it('tells the viewer the terminal’s size after ready, and again when the student resizes', async () => {
		const { student, watch } = await joinedStudent('Ken');
		student.send({ t: 'resize', cols: 100, rows: 30 });
		await student.run('stty size', 's1');
		const viewer = await watch();
		await viewer.waitFor(() => viewer.messages.some((m) => m.t === 'size') || undefined, 5_000, 'size');
		const ready = viewer.messages.findIndex((message) => message.t === 'ready');
		expect(viewer.messages[ready + 1]).toEqual({ t: 'size', cols: 100, rows: 30 });
		student.send({ t: 'resize', cols: 120, rows: 40 });
		await viewer.waitFor(() => viewer.messages.some((m) => m.t === 'size' && m.cols === 120 && m.rows === 40) || undefined, 5_000, 'size 120×40');
		// The student's own sockets are not sent sizes they set themselves.
		expect(student.messages.some((message) => message.t === 'size')).toBe(false);
		viewer.close();
		student.close();
	});
});

describe('taking over', () => {
	it('is one instructor page at a time: a second is refused and told it does not have the keyboard', async () => {
		const { student, watch } = await joinedStudent('Frances');
		const first = await watch();
		const second = await watch();
		first.send({ t: 'takeover', on: true });
		await toldTakeover(student, true);
		const before = second.messages.length;
		second.send({ t: 'takeover', on: true });
		await second.waitFor(() => second.messages.slice(before).some((m) => m.t === 'takeover' && !m.on) || undefined, 5_000, 'takeover refused');
		expect(second.messages.slice(before).filter((m) => m.t === 'error')).toEqual([
			{ t: 'error', code: 'LAB_ERR_TAKEN_OVER', message: 'Another instructor is typing in this terminal: wait until they give it back.' },
		]);
		// The second page letting go changes nothing; its keys are still refused, the first's arrive.
		second.send({ t: 'takeover', on: false });
		second.type('echo from-the-second\r');
		first.type('echo "from the $((1+0))st"\r');
		await student.waitForText('from the 1st');
		expect(student.plainText).not.toContain('from-the-second');
		expect(student.messages.filter((m) => m.t === 'takeover')).toEqual([{ t: 'takeover', on: true }]);
		first.close();
		await toldTakeover(student, false);
		second.close();
		student.close();
	});

	it('is handed back when the instructor’s view falls behind and is dropped', async () => {
		const { student, watch } = await joinedStudent('Hedy');
		const stalled = await watch({ ack: false, keep: false });
		stalled.send({ t: 'takeover', on: true });
		await toldTakeover(student, true);
		student.type('head -c 6000000 /dev/zero | tr "\\0" y; echo\r');
		await stalled.waitForClose(20_000);
		expect(stalled.closeCode).toBe(1013);
		await toldTakeover(student, false);
		student.close();
	});

	it('is told to a student who reconnects while the instructor types', async () => {
		const { student, watch, cookie: studentCookie } = await joinedStudent('Katherine');
		const viewer = await watch();
		viewer.send({ t: 'takeover', on: true });
		await toldTakeover(student, true);
		student.close();
		const again = await TestClient.connect(gateway, { cookie: studentCookie });
		await toldTakeover(again, true);
		viewer.close();
		again.close();
	});
});

describe('a thumbnail', () => {
	it('replays only the tail it asks for, then follows live', async () => {
		const { student, watch } = await joinedStudent('Barbara');
		await student.run('head -c 300000 /dev/zero | tr "\\0" x; echo; echo end-of-flood', 'flood');
		const full = await watch();
		const thumbnail = await watch({ attach: { tail: 4096 } });
		await full.waitForText('end-of-flood');
		await thumbnail.waitForText('end-of-flood');
		const ready = thumbnail.messages.find((message) => message.t === 'ready');
		expect(full.received).toBeGreaterThan(300_000);
		// 4096 bytes replayed (the next prompt may follow them live).
		expect(thumbnail.received).toBeGreaterThanOrEqual(4096);
		expect(thumbnail.received).toBeLessThan(4096 + 512);
		expect(ready?.t === 'ready' && ready.offset).toBeGreaterThan(300_000 - 4096);
		student.type('echo after-the-tail\r');
		await thumbnail.waitForText('after-the-tail');
		full.close();
		thumbnail.close();
		student.close();
	});
});

describe('requests that change something', () => {
	it('are refused from a foreign Origin, even with the instructor’s cookie', async () => {
		const response = await fetch(`${gateway.url}api/instructor/broadcast`, {
			method: 'POST',
			headers: { cookie, origin: 'https://evil.example', 'content-type': 'application/json' },
			body: JSON.stringify({ text: 'free pizza' }),
		});
		expect(response.status).toBe(403);
		expect(await response.json()).toMatchObject({ code: 'LAB_ERR_ORIGIN' });
		const ours = await fetch(`${gateway.url}api/instructor/broadcast`, {
			method: 'POST',
			headers: { cookie, origin: gateway.url.replace(/\/$/, ''), 'content-type': 'application/json' },
			body: JSON.stringify({ text: 'back at 11' }),
		});
		expect(ours.status).toBe(200);
	});
});
