/**
 * What a socket may make the gateway hold (issue: hardening from an outside probe): input into a
 * shell that does not read is bounded and given back, nothing is written to a descriptor the
 * terminal let go of, and a socket that never attaches does not stay open.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newReader, TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { isAlive } from '../../server/process-tree.ts';
import { eventually, rssBytes, terminalPids } from '../helpers/processes.ts';

let gateway: RunningGateway;
beforeAll(async () => {
	// A short grace, so a terminal whose sockets closed ends within the test.
	gateway = await startGateway({ PODLAB_GRACE_MS: '2000' });
});
afterAll(async () => {
	await gateway?.stop();
});

/** The gateway's CPU seconds so far (user + system), from /proc. */
async function cpuSeconds(pid: number): Promise<number> {
	const { readFileSync } = await import('node:fs');
	const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
	return (Number(fields[11]) + Number(fields[12])) / 100;
}

describe('input into a terminal that does not read', () => {
	it('stays within a bound on the gateway, burns no CPU, and is given back when the terminal ends', async () => {
		const reader = await newReader(gateway);
		const first = await TestClient.connect(gateway, { cookie: reader, keep: false });
		// Raw mode: the pty then takes no more input once its buffer is full (in canonical mode the
		// kernel may instead discard what does not fit, and nothing would queue at all).
		first.send({ t: 'run', code: 'stty raw -echo; sleep 1000', block: 'sleeper' });
		await first.waitFor(() => first.messages.some((message) => message.t === 'status' && message.busy), 10_000, 'busy');
		const clients = [first, await TestClient.connect(gateway, { cookie: reader, keep: false }), await TestClient.connect(gateway, { cookie: reader, keep: false })];
		const baseline = rssBytes(gateway.pid);
		const frame = Buffer.alloc(64 * 1024, 0x61);
		// 40 MiB from three sockets: the gateway stops reading them once the shell's queue is full.
		for (let round = 0; round < 210; round++) for (const client of clients) client.socket.send(frame, { binary: true });
		await new Promise((resolve) => setTimeout(resolve, 3000));
		const cpuBefore = await cpuSeconds(gateway.pid);
		await new Promise((resolve) => setTimeout(resolve, 2000));
		const cpuWhileStuck = (await cpuSeconds(gateway.pid)) - cpuBefore;
		const growth = rssBytes(gateway.pid) - baseline;
		console.info(`gateway RSS growth with 40 MiB of input into a stuck shell: ${(growth / 1048576).toFixed(1)} MiB; CPU over 2 s: ${cpuWhileStuck.toFixed(2)} s`);
		expect(growth).toBeLessThan(32 * 1024 * 1024);
		expect(cpuWhileStuck).toBeLessThan(0.3);

		// The sockets go; after the grace the terminal ends, and what it queued goes with it.
		const shell = terminalPids(gateway).at(-1)!;
		for (const client of clients) client.socket.terminate();
		await eventually(() => !isAlive(shell), 10_000, 'the terminal ended');
		await new Promise((resolve) => setTimeout(resolve, 500));
		const after = rssBytes(gateway.pid) - baseline;
		console.info(`gateway RSS after the terminal ended: ${(after / 1048576).toFixed(1)} MiB above the baseline`);
		expect(after).toBeLessThan(16 * 1024 * 1024);
	});
});

describe('a socket that never attaches', () => {
	it('is closed with LAB_ERR_ATTACH_TIMEOUT (4007) after 10 s', async () => {
		const cookie = await newReader(gateway);
		const socket = new WebSocket(gateway.wsUrl, { headers: { cookie, origin: gateway.origin } });
		const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
		const started = performance.now();
		expect(await closed).toEqual({ code: 4007, reason: 'LAB_ERR_ATTACH_TIMEOUT' });
		expect(performance.now() - started).toBeGreaterThan(9000);
	}, 20_000);
});

describe('frames sent right behind the attach, before ready', () => {
	it('are handled in order once the shell has started: the run is typed at the size sent before it, once, and the socket is read again after', async () => {
		const cookie = await newReader(gateway);
		const socket = new WebSocket(gateway.wsUrl, { headers: { cookie, origin: gateway.origin } });
		const frames: Array<{ text?: string; bytes?: Buffer }> = [];
		socket.on('message', (data, isBinary) => frames.push(isBinary ? { bytes: data as Buffer } : { text: data.toString() }));
		await new Promise((resolve) => socket.once('open', resolve));
		for (const message of [
			{ t: 'attach', term: 'main', since: 0 },
			{ t: 'resize', cols: 100, rows: 40 },
			{ t: 'run', code: 'stty size', block: 'size' },
		]) {
			socket.send(JSON.stringify(message));
		}
		// The output without the shell's OSC 133 marks.
		const output = () =>
			Buffer.concat(frames.flatMap(({ bytes }) => (bytes ? [bytes] : [])))
				.toString()
				.replace(/\x1b\][^\x07]*\x07/g, '');
		const messages = () => frames.flatMap(({ text }) => (text ? [JSON.parse(text)] : []));
		const done = () => messages().filter((message) => message.t === 'done');
		await eventually(() => done().length === 1, 10_000, 'the run done');
		expect(messages()[0]).toMatchObject({ t: 'ready', term: 'main', created: true });
		expect(done()).toEqual([{ t: 'done', block: 'size', exit: 0 }]);
		// The socket is read again after the attach: a frame sent now is handled too.
		socket.send(JSON.stringify({ t: 'run', code: 'echo "after=$((6 * 7))"', block: 'after' }));
		await eventually(() => done().length === 2, 10_000, 'the second run done');
		expect(output().match(/^after=42\r$/gm)).toHaveLength(1);
		expect(output().match(/^40 100\r$/gm)).toHaveLength(1);
		socket.close();
	});
});

describe('a socket that floods pings', () => {
	it('is closed with its code and reason, LAB_ERR_RATE (1008), and got pongs until then', async () => {
		const client = await TestClient.connect(gateway);
		let pongs = 0;
		client.socket.on('pong', () => pongs++);
		for (let i = 0; i < 20_000; i++) client.socket.ping();
		expect(await client.waitForClose()).toBe(1008);
		expect(client.closeReason).toBe('LAB_ERR_RATE');
		expect(pongs).toBeGreaterThan(0);
	});
});
