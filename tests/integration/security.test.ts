/**
 * What a stranger, a hostile page or a broken client can do to the gateway: nothing beyond having
 * its own request refused or its own socket closed with a documented code.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { newReader, TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { terminalPids } from '../helpers/processes.ts';

let gateway: RunningGateway;
beforeAll(async () => {
	gateway = await startGateway({ PODLAB_MESSAGES_PER_SECOND: '100' });
});
afterAll(async () => {
	await gateway?.stop();
});

/** Sends a WebSocket upgrade by hand; resolves with the HTTP status (101 when it was accepted). */
function upgrade(path: string, headers: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> | null }> {
	const url = new URL(gateway.url);
	return new Promise((resolve, reject) => {
		const req = request({
			host: url.hostname,
			port: url.port,
			path,
			headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
		});
		req.on('upgrade', (_, socket) => {
			socket.destroy();
			resolve({ status: 101, body: null });
		});
		req.on('response', (response) => {
			let text = '';
			response.on('data', (chunk) => (text += chunk));
			response.on('end', () => resolve({ status: response.statusCode!, body: JSON.parse(text) }));
		});
		req.on('error', reject);
		req.end();
	});
}

const UPGRADE_HEADERS = ['Connection', 'Upgrade', 'Upgrade', 'websocket', 'Sec-WebSocket-Version', '13', 'Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='];

/** Sends a request with exactly these header lines (repeats included); resolves with the status line's code. */
function rawRequest(path: string, headerLines: string[], method = 'GET'): Promise<number> {
	const url = new URL(gateway.url);
	return new Promise((resolve, reject) => {
		const socket = connect(Number(url.port), url.hostname, () => {
			const lines = [];
			for (let index = 0; index < headerLines.length; index += 2) lines.push(`${headerLines[index]}: ${headerLines[index + 1]}`);
			socket.write(`${method} ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`);
		});
		let answer = '';
		socket.on('data', (chunk) => {
			answer += chunk;
			const status = /^HTTP\/1\.1 (\d{3})/.exec(answer);
			if (status) {
				socket.destroy();
				resolve(Number(status[1]));
			}
		});
		socket.on('error', reject);
	});
}

describe('the upgrade is checked before any handshake', () => {
	it('accepts its own origin with a reader cookie', async () => {
		const cookie = await newReader(gateway);
		expect((await upgrade('/ws', { cookie, origin: gateway.origin, host: new URL(gateway.url).host })).status).toBe(101);
	});

	it.each([
		['a foreign origin', 'https://evil.example'],
		['the null origin', 'null'],
		['a look-alike origin', 'http://127.0.0.1.evil.example'],
		['the right host on the wrong port', 'http://127.0.0.1:1'],
		['https instead of http', () => gateway.origin.replace('http:', 'https:')],
	])('refuses %s with 403 LAB_ERR_ORIGIN', async (_, origin) => {
		const cookie = await newReader(gateway);
		const result = await upgrade('/ws', { cookie, origin: typeof origin === 'function' ? origin() : origin });
		expect(result).toEqual({ status: 403, body: { code: 'LAB_ERR_ORIGIN', message: 'This page is not allowed to open a terminal here (Origin not allowed).' } });
	});

	it('refuses a missing origin', async () => {
		const cookie = await newReader(gateway);
		expect(await upgrade('/ws', { cookie })).toMatchObject({ status: 403, body: { code: 'LAB_ERR_ORIGIN' } });
	});

	it('refuses a Host it does not serve (DNS rebinding)', async () => {
		const cookie = await newReader(gateway);
		const port = new URL(gateway.url).port;
		const result = await upgrade('/ws', { cookie, origin: `http://rebind.evil.example:${port}`, host: `rebind.evil.example:${port}` });
		expect(result).toEqual({ status: 403, body: { code: 'LAB_ERR_HOST', message: 'This address is not allowed to open a terminal here (Host not allowed).' } });
		const status = await new Promise<number>((resolve, reject) => {
			request({ host: '127.0.0.1', port, path: '/api/lab', headers: { host: `rebind.evil.example:${port}` } }, (response) => {
				response.resume();
				resolve(response.statusCode!);
			})
				.on('error', reject)
				.end();
		});
		expect(status).toBe(403);
	});

	it('refuses a socket without a reader, or with a forged one', async () => {
		expect(await upgrade('/ws', { origin: gateway.origin })).toMatchObject({ status: 401, body: { code: 'LAB_ERR_NO_READER' } });
		expect(await upgrade('/ws', { origin: gateway.origin, cookie: 'podlab_reader=AAAAAAAAAAAAAAAAAAAAAA' })).toMatchObject({ status: 401 });
	});

	it('refuses other paths', async () => {
		const cookie = await newReader(gateway);
		expect(await upgrade('/shell', { cookie, origin: gateway.origin })).toMatchObject({ status: 404, body: { code: 'LAB_ERR_NOT_FOUND' } });
	});

	it('started no shell for any refused socket', () => {
		expect(terminalPids(gateway)).toEqual([]);
	});

	it('mints no session for a foreign page', async () => {
		const response = await fetch(`${gateway.url}api/session`, { headers: { origin: 'https://evil.example' } });
		expect(response.status).toBe(403);
		expect(response.headers.get('set-cookie')).toBeNull();
	});

	it('issues a reader only to a page of the site: never to another site’s <img>, nor to a request that does not say', async () => {
		const port = new URL(gateway.url).port;
		const refused: Record<string, string>[] = [
			{},
			{ 'sec-fetch-site': 'cross-site' },
			{ 'sec-fetch-site': 'same-site' },
			{ referer: 'https://evil.example/page' },
			{ referer: `http://127.0.0.1.evil.example:${port}/` },
		];
		for (const headers of refused) {
			const response = await fetch(`${gateway.url}api/session`, { headers });
			expect(response.status, JSON.stringify(headers)).toBe(403);
			expect(await response.json()).toEqual({ code: 'LAB_ERR_ORIGIN', message: 'This page is not allowed to open a terminal here (Origin not allowed).' });
			expect(response.headers.get('set-cookie')).toBeNull();
		}
		// What a browser sends from the site's own page: Origin, Sec-Fetch-Site, or (plain http to a LAN address) its Referer.
		for (const headers of [{ origin: gateway.origin }, { 'sec-fetch-site': 'same-origin' }, { referer: `${gateway.origin}/chapters/pause/` }] as Record<string, string>[]) {
			const response = await fetch(`${gateway.url}api/session`, { headers });
			expect(response.status, JSON.stringify(headers)).toBe(200);
			expect(response.headers.get('set-cookie')).toMatch(/^podlab_reader=/);
		}
		// A reader already issued lists its terminals without any of these (its cookie is SameSite=Strict).
		const cookie = await newReader(gateway);
		expect((await fetch(`${gateway.url}api/session`, { headers: { cookie } })).status).toBe(200);
	});

	it('refuses a repeated Host or Origin, the first one allowed or not', async () => {
		const port = new URL(gateway.url).port;
		const cookie = await newReader(gateway);
		const own = new URL(gateway.url).host;
		const sent = (rawHeaders: string[]) => rawRequest('/ws', [...rawHeaders, 'Cookie', cookie, ...UPGRADE_HEADERS]);
		expect(await sent(['Host', own, 'Origin', gateway.origin])).toBe(101);
		expect(await sent(['Host', own, 'Host', `rebind.evil.example:${port}`, 'Origin', gateway.origin])).toBe(403);
		expect(await sent(['Host', own, 'Host', own, 'Origin', gateway.origin])).toBe(403);
		expect(await sent(['Host', own, 'Origin', gateway.origin, 'Origin', gateway.origin])).toBe(403);
		expect(await rawRequest('/api/health', ['Host', own, 'Host', `rebind.evil.example:${port}`])).toBe(403);
		const post = await rawRequest('/api/join', ['Host', own, 'Origin', gateway.origin, 'Origin', 'https://evil.example', 'Content-Length', '0'], 'POST');
		expect(post).toBe(403);
	});

	it('sends security headers and a strict cookie', async () => {
		const response = await fetch(`${gateway.url}api/session`, { headers: { origin: gateway.origin } });
		expect(response.headers.get('set-cookie')).toMatch(/^podlab_reader=[\w-]{22}\.[\w-]{32}; Path=\/; HttpOnly; SameSite=Strict$/);
		expect(response.headers.get('x-content-type-options')).toBe('nosniff');
		expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
	});
});

describe('a misbehaving client loses only its own socket', () => {
	async function expectClosed(client: TestClient, code: string, closeCode: number): Promise<void> {
		expect(await client.waitForClose()).toBe(closeCode);
		expect(client.closeReason).toBe(code);
		expect(client.messages.at(-1)).toMatchObject({ t: 'error', code });
	}

	it('closes on malformed JSON with 1007, while another reader keeps working', async () => {
		const bystander = await TestClient.connect(gateway);
		const client = await TestClient.connect(gateway);
		client.socket.send('{"t":"resize",');
		await expectClosed(client, 'LAB_ERR_BAD_MESSAGE', 1007);
		expect(await bystander.run('echo still-here', 'alive')).toMatchObject({ exit: 0 });
		bystander.close();
	});

	it('closes on an unknown message type with 1008', async () => {
		const client = await TestClient.connect(gateway);
		client.socket.send('{"t":"exec","command":"id"}');
		await expectClosed(client, 'LAB_ERR_UNKNOWN_TYPE', 1008);
	});

	it('closes on an oversize frame with 1009, while another reader keeps working', async () => {
		const bystander = await TestClient.connect(gateway);
		const client = await TestClient.connect(gateway);
		client.socket.send(Buffer.alloc(65 * 1024, 0x61), { binary: true });
		expect(await client.waitForClose()).toBe(1009);
		expect(await bystander.run('echo still-here', 'alive')).toMatchObject({ exit: 0 });
		bystander.close();
	});

	it('closes a socket that sends input before attaching', async () => {
		const cookie = await newReader(gateway);
		const socket = new WebSocket(gateway.wsUrl, { headers: { cookie, origin: gateway.origin } });
		await new Promise((resolve) => socket.once('open', resolve));
		const messages: string[] = [];
		socket.on('message', (data) => messages.push(data.toString()));
		socket.send(Buffer.from('id\r'), { binary: true });
		const [code, reason] = await new Promise<[number, string]>((resolve) => socket.once('close', (c, r) => resolve([c, r.toString()])));
		expect([code, reason]).toEqual([1008, 'LAB_ERR_NOT_ATTACHED']);
		expect(JSON.parse(messages[0]!)).toMatchObject({ t: 'error', code: 'LAB_ERR_NOT_ATTACHED' });
	});

	it('closes a socket that floods messages with 1008', async () => {
		const client = await TestClient.connect(gateway);
		for (let i = 0; i < 400; i++) client.send({ t: 'resize', cols: 80, rows: 24 });
		await expectClosed(client, 'LAB_ERR_RATE', 1008);
	});

	it('refuses a second attach on the same socket', async () => {
		const client = await TestClient.connect(gateway);
		client.send({ t: 'attach', term: 'other', since: 0 });
		await expectClosed(client, 'LAB_ERR_ALREADY_ATTACHED', 1008);
	});

	it('never logs a reader id', async () => {
		const cookies = [await newReader(gateway), await newReader(gateway)];
		const client = await TestClient.connect(gateway, { cookie: cookies[0] });
		client.socket.send('not json');
		await client.waitForClose();
		for (const cookie of cookies) {
			const value = cookie.split('=')[1]!;
			const id = value.split('.')[0]!;
			expect(id).toMatch(/^[\w-]{22}$/);
			expect(gateway.logs()).not.toContain(id);
			expect(gateway.logs()).not.toContain(value.split('.')[1]!);
		}
	});

	it('is still healthy', async () => {
		expect(await (await fetch(`${gateway.url}api/health`)).json()).toMatchObject({ ok: true });
		expect(gateway.process.exitCode).toBeNull();
	});
});

describe('readers that never opened a terminal', () => {
	it('make room within 30 s when the gateway is full, instead of holding it for the whole grace', { timeout: 60_000 }, async () => {
		const small = await startGateway({ PODLAB_MAX_READERS: '2' });
		try {
			const session = () => fetch(`${small.url}api/session`, { headers: { origin: small.origin } });
			expect((await session()).status).toBe(200);
			expect((await session()).status).toBe(200);
			const full = await session();
			expect(full.status).toBe(503);
			expect(await full.json()).toMatchObject({ code: 'LAB_ERR_LAB_FULL' });
			await new Promise((resolve) => setTimeout(resolve, 31_000));
			expect((await session()).status).toBe(200);
		} finally {
			await small.stop();
		}
	});
});
