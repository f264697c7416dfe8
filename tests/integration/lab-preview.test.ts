/**
 * Lab previews on a real gateway (local backend: the lab is this machine, so a plain Node server on
 * a free port stands for the lab's web app): the site's link, the one-use entry, the preview's own
 * cookie, what reaches the lab and what comes back, WebSockets, other readers and other origins, and
 * the bounds. The same in a reader's Incus lab, in Chromium: tests/e2e/lab-preview.test.ts.
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { joinClass, TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';

/** What the lab's app last saw, for the assertions on what reaches it. */
let seen: { cookie?: string; host?: string } = {};
let app: Server;
let appPort: number;
let gateway: RunningGateway;
let reader: TestClient;
let previewPort: number;

beforeAll(async () => {
	app = createServer((req, res) => {
		seen = { cookie: req.headers.cookie, host: req.headers.host };
		if (req.url === '/big') {
			res.writeHead(200, { 'content-type': 'application/octet-stream' });
			return res.end(Buffer.alloc(1024 * 1024, 120));
		}
		if (req.url === '/slow') return void setTimeout(() => res.end('slow'), 1500);
		res.writeHead(200, { 'content-type': 'text/html', 'set-cookie': ['podlab_preview=forged; Path=/', 'app=1; Path=/'] });
		res.end('<h1>Kano/鹿乃</h1>');
	});
	const sockets = new WebSocketServer({ server: app });
	sockets.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo ${data}`)));
	await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
	appPort = (app.address() as AddressInfo).port;
	gateway = await startGateway({ PODLAB_PREVIEW_CONNECTIONS: '3', PODLAB_PREVIEW_BYTES_PER_MINUTE: '2MiB' });
	expect(gateway.previews).toMatch(/^http:\/\/\*\.localhost:\d+$/);
	previewPort = Number(gateway.previews!.split(':').at(-1));
	reader = await TestClient.connect(gateway);
});
afterAll(async () => {
	reader?.close();
	await gateway?.stop();
	app?.close();
});

interface Answer {
	status: number;
	headers: IncomingHttpHeaders;
	body: string;
}

/** A request to the preview listener under `host` (Node cannot resolve names under localhost itself). */
function ask(host: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
	return new Promise((resolve, reject) => {
		// The host names the listener's port (the gateway's default pattern).
		const req = request({ host: '127.0.0.1', port: Number(host.split(':')[1] ?? previewPort), path, headers: { host, ...headers } }, (res) => {
			const chunks: Buffer[] = [];
			res.on('data', (chunk: Buffer) => chunks.push(chunk));
			res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
			res.on('error', reject);
		});
		req.on('error', reject);
		req.end();
	});
}

/** The site's link into a preview: its entry URL. */
async function previewLink(cookie: string | null, query: string, site = gateway): Promise<{ status: number; location: URL | null }> {
	const response = await fetch(`${site.url}api/preview?${query}`, { redirect: 'manual', headers: cookie ? { cookie } : {} });
	const location = response.headers.get('location');
	return { status: response.status, location: location ? new URL(location) : null };
}

/** Opens the reader's preview of `port` (the instructor's of a student's with `student=`): its host and its cookie. */
async function enter(cookie = reader.cookie, port = appPort, site = gateway, extra = ''): Promise<{ host: string; cookie: string }> {
	const { status, location } = await previewLink(cookie, `port=${port}${extra}`, site);
	expect(status).toBe(303);
	const entered = await ask(location!.host, `${location!.pathname}${location!.search}`);
	expect(entered.status).toBe(303);
	expect(entered.headers.location).toBe('/');
	const setCookie = entered.headers['set-cookie']![0]!;
	expect(setCookie).toMatch(/^podlab_preview=[^;]+;.*HttpOnly/);
	expect(setCookie).toMatch(/SameSite=Lax/);
	return { host: location!.host, cookie: setCookie.split(';')[0]! };
}

describe('lab previews', () => {
	it('opens a reader’s lab page on an origin of its own, through a link that works once', async () => {
		const { status, location } = await previewLink(reader.cookie, `port=${appPort}`);
		expect(status).toBe(303);
		expect(location!.origin).toMatch(new RegExp(`^http://p[0-9a-f]{24}\\.localhost:${previewPort}$`));
		expect(location!.origin).not.toBe(gateway.origin);
		expect(location!.pathname).toBe('/.podlab/enter');
		const link = `${location!.pathname}${location!.search}`;
		const entered = await ask(location!.host, link);
		expect(entered.status).toBe(303);
		const cookie = entered.headers['set-cookie']![0]!.split(';')[0]!;
		const page = await ask(location!.host, '/', { cookie: `${cookie}; app=1` });
		expect(page.status).toBe(200);
		expect(page.body).toBe('<h1>Kano/鹿乃</h1>');
		// The lab sees its own cookies, never podlab's; it cannot set podlab's either.
		expect(seen.cookie).toBe('app=1');
		expect(seen.host).toBe(location!.host);
		expect(page.headers['set-cookie']).toEqual(['app=1; Path=/']);
		// Text without a charset is labelled UTF-8 (a browser would guess windows-1252 for so short a page).
		expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
		// The same link again: refused, so a link copied out of the address bar opens nothing.
		expect((await ask(location!.host, link)).status).toBe(403);
	});

	it('refuses without the preview’s cookie, with another preview’s, and another reader’s link', async () => {
		const mine = await enter();
		expect((await ask(mine.host, '/')).status).toBe(403);
		const other = await TestClient.connect(gateway);
		try {
			const theirs = await enter(other.cookie);
			// Each reader's preview of the same port is an origin of its own.
			expect(theirs.host).not.toBe(mine.host);
			expect((await ask(mine.host, '/', { cookie: theirs.cookie })).status).toBe(403);
			expect((await ask(theirs.host, '/', { cookie: mine.cookie })).status).toBe(403);
			// A preview cookie on another port's host is refused too.
			const otherPort = await enter(reader.cookie, appPort === 65_535 ? 1 : appPort + 1);
			expect((await ask(otherPort.host, '/', { cookie: mine.cookie })).status).toBe(403);
		} finally {
			other.close();
		}
		// No session: no link.
		expect((await previewLink(null, `port=${appPort}`)).status).toBe(403);
		expect((await previewLink(reader.cookie, 'port=0')).status).toBe(400);
		expect((await previewLink(reader.cookie, 'port=http')).status).toBe(400);
		// A name that is not a preview's (DNS rebinding) gets nothing.
		expect((await ask(`evil.example:${previewPort}`, '/', { cookie: mine.cookie })).status).toBe(404);
		expect((await ask(`localhost:${previewPort}`, '/', { cookie: mine.cookie })).status).toBe(404);
	});

	it('lets only the preview’s own pages fetch it: another origin’s requests are refused, its links followed', async () => {
		const { host, cookie } = await enter();
		const own = `http://${host}`;
		expect((await ask(host, '/', { cookie, 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors' })).status).toBe(200);
		expect((await ask(host, '/', { cookie, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors', origin: 'http://pother.localhost' })).status).toBe(403);
		expect((await ask(host, '/', { cookie, 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'no-cors' })).status).toBe(403);
		expect((await ask(host, '/', { cookie, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' })).status).toBe(200);
		// Browsers without fetch metadata: the Origin decides.
		expect((await ask(host, '/', { cookie, origin: own })).status).toBe(200);
		expect((await ask(host, '/', { cookie, origin: 'http://evil.example' })).status).toBe(403);
	});

	it('carries WebSockets opened by the preview’s own pages, and no others', async () => {
		const { host, cookie } = await enter();
		const open = (origin: string) => new WebSocket(`ws://127.0.0.1:${previewPort}/socket`, { headers: { host, cookie }, origin });
		const socket = open(`http://${host}`);
		await new Promise((resolve, reject) => {
			socket.once('open', resolve);
			socket.once('error', reject);
		});
		socket.send('hello');
		const echo = await new Promise<string>((resolve) => socket.once('message', (data) => resolve(String(data))));
		expect(echo).toBe('echo hello');
		socket.close();
		const foreign = open('http://evil.example');
		const status = await new Promise<number>((resolve) => foreign.once('unexpected-response', (_req, res) => resolve(res.statusCode!)));
		expect(status).toBe(403);
	});

	it('says when nothing answers on the port', async () => {
		const closed = createServer();
		await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
		const port = (closed.address() as AddressInfo).port;
		closed.close();
		const { host, cookie } = await enter(reader.cookie, port);
		const answer = await ask(host, '/', { cookie });
		expect(answer.status).toBe(502);
		expect(answer.body).toContain(`Nothing answers on port ${port}`);
	});

	it('bounds a reader’s connections and bytes, and stays up for the others', async () => {
		const { host, cookie } = await enter();
		const answers = await Promise.all(Array.from({ length: 5 }, () => ask(host, '/slow', { cookie })));
		const statuses = answers.map((answer) => answer.status).sort();
		expect(statuses.filter((status) => status === 200)).toHaveLength(3);
		expect(statuses.filter((status) => status === 429)).toHaveLength(2);
		// 2 MiB a minute: the first MiB goes, the budget ends a later one partway, then refuses.
		const sizes: number[] = [];
		for (let index = 0; index < 4; index++) {
			const answer = await ask(host, '/big', { cookie }).catch(() => null);
			sizes.push(answer?.status === 200 ? Buffer.byteLength(answer.body) : -(answer?.status ?? 0));
		}
		expect(sizes[0]).toBe(1024 * 1024);
		expect(sizes.at(-1)).toBe(-429);
		// Another reader is not held by it.
		const other = await TestClient.connect(gateway);
		try {
			const theirs = await enter(other.cookie);
			expect((await ask(theirs.host, '/', { cookie: theirs.cookie })).status).toBe(200);
		} finally {
			other.close();
		}
	});
});

describe('lab previews in class mode', () => {
	const TOKEN = 'lab-preview-instructor-token';
	it('opens a student’s preview for the student and for the signed-in instructor, for nobody else', async () => {
		const site = await startGateway({
			PODLAB_MODE: 'class',
			// Students share this machine's lab: the knowing choice class mode on the local backend needs.
			PODLAB_ALLOW_SHARED_LAB: '1',
			PODLAB_JOIN_CODE: 'preview-class',
			PODLAB_INSTRUCTOR_TOKEN: TOKEN,
			PODLAB_STATE_DIR: mkdtempSync(join(tmpdir(), 'podlab-preview-class-')),
		});
		try {
			const ada = await joinClass(site, 'Ada', 'preview-class');
			const bob = await joinClass(site, 'Bob', 'preview-class');
			const session = await fetch(`${site.url}api/instructor/session`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
			const instructor = session.headers.get('set-cookie')!.split(';')[0]!;
			const own = await enter(ada.cookie!, appPort, site);
			expect((await ask(own.host, '/', { cookie: own.cookie })).body).toBe('<h1>Kano/鹿乃</h1>');
			// The instructor's link to Ada's preview: the same origin as hers, a pass of the instructor's own.
			const watched = await enter(instructor, appPort, site, `&student=${ada.body.id}`);
			expect(watched.host).toBe(own.host);
			expect((await ask(watched.host, '/', { cookie: watched.cookie })).status).toBe(200);
			// A student cannot name another student; nor can anyone without the instructor's cookie.
			expect((await previewLink(bob.cookie!, `port=${appPort}&student=${ada.body.id}`, site)).status).toBe(403);
			expect((await previewLink(null, `port=${appPort}&student=${ada.body.id}`, site)).status).toBe(403);
			expect((await previewLink(instructor, `port=${appPort}&student=nobody`, site)).status).toBe(403);
			// Ada's seat freed: her preview's pass opens nothing any more.
			expect((await fetch(`${site.url}api/instructor/students/${ada.body.id}`, { method: 'DELETE', headers: { cookie: instructor } })).status).toBe(200);
			expect((await ask(own.host, '/', { cookie: own.cookie })).status).toBe(403);
		} finally {
			await site.stop();
		}
	});
});
