/**
 * Output under pressure: a stalled client cannot make the gateway buffer without bound, Ctrl-C still
 * works while output is paused, and no byte is lost when a command floods and the shell exits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { FloodCounter, floodCommand } from '../helpers/flood.ts';
import { eventually, rssBytes, sessionProcessesNamed, terminalPids } from '../helpers/processes.ts';

let gateway: RunningGateway;
beforeAll(async () => {
	gateway = await startGateway();
});
afterAll(async () => {
	await gateway?.stop();
});

describe('flow control', () => {
	it('keeps the gateway bounded under `yes` into a client that never acks, and Ctrl-C stops it within 1 s', async () => {
		const client = await TestClient.connect(gateway, { ack: false, keep: false });
		await client.waitFor(() => client.received > 0 || undefined, 5000, 'the prompt');
		const baseline = rssBytes(gateway.pid);
		client.send({ t: 'run', code: 'yes podlab', block: 'yes' });
		const session = terminalPids(gateway).at(-1)!;
		await eventually(async () => (await sessionProcessesNamed(session, 'yes')).length === 1, 5000, '`yes` running');

		const samples: number[] = [];
		for (let i = 0; i < 6; i++) {
			await new Promise((resolve) => setTimeout(resolve, 500));
			samples.push(rssBytes(gateway.pid) - baseline);
		}
		const receivedWhilePaused = client.received;
		await new Promise((resolve) => setTimeout(resolve, 500));
		// Paused: the client got about one watermark of output and then nothing more.
		expect(receivedWhilePaused).toBeLessThan(1024 * 1024);
		expect(client.received).toBe(receivedWhilePaused);
		expect(Math.max(...samples)).toBeLessThan(32 * 1024 * 1024);
		console.info(`gateway RSS growth under yes (stalled client): max ${(Math.max(...samples) / 1048576).toFixed(1)} MiB; client received ${receivedWhilePaused} bytes`);

		client.type('\x03');
		const took = await eventually(async () => (await sessionProcessesNamed(session, 'yes')).length === 0, 1000, '`yes` ended by Ctrl-C');
		console.info(`Ctrl-C stopped yes in ${took.toFixed(0)} ms`);
		client.close();
	});

	it('resumes output once the client acks', async () => {
		const client = await TestClient.connect(gateway, { keep: false });
		client.send({ t: 'run', code: 'yes podlab | head -c 5000000 > /dev/null; head -c 3000000 /dev/zero | tr "\\0" "y"; echo', block: 'bulk' });
		await client.waitFor(() => client.messages.some((m) => m.t === 'done') || undefined, 30_000, 'done');
		expect(client.received).toBeGreaterThan(3_000_000);
		client.close();
	});
});

describe('no lost output', () => {
	it('delivers exactly 50,000,000 bytes of a flood that ends with the shell, every time', async () => {
		for (let round = 1; round <= 3; round++) {
			const flood = new FloodCounter();
			const client = await TestClient.connect(gateway, { keep: false, onOutput: (chunk) => flood.feed(chunk) });
			const began = performance.now();
			client.send({ t: 'run', code: floodCommand(50_000_000, 'exit 7'), block: `flood-${round}` });
			expect(await client.waitForMessage('exit', 60_000)).toEqual({ t: 'exit', code: 7 });
			const seconds = (performance.now() - began) / 1000;
			expect(flood.count, `round ${round}`).toBe(50_000_000);
			console.info(`round ${round}: 50,000,000 bytes in ${seconds.toFixed(2)} s (${(50 / seconds).toFixed(0)} MB/s)`);
			await client.waitForClose();
		}
	});
});

describe('acks and the message rate', () => {
	it('lets a client ack every 16 KiB of a fast flood (far past the message rate) without closing it', async () => {
		const acks = { sent: 0 };
		const client = await TestClient.connect(gateway, { keep: false, ack: false });
		client.socket.on('message', (data, isBinary) => {
			if (!isBinary) return;
			// A deliberately chatty client: one ack per 16 KiB, like an eager browser.
			for (let left = (data as Buffer).length; left > 0; left -= 16 * 1024) {
				client.send({ t: 'ack', bytes: Math.min(left, 16 * 1024) });
				acks.sent++;
			}
		});
		client.send({ t: 'run', code: "head -c 40000000 /dev/zero | tr '\\0' '@'; echo", block: 'chatty' });
		await client.waitForMessage('done', 60_000);
		expect(client.closeCode).toBeNull();
		expect(acks.sent).toBeGreaterThan(2000);
		client.close();
	});

	it('still closes a socket that floods acks it does not owe', async () => {
		const client = await TestClient.connect(gateway);
		await client.waitFor(() => client.received > 0 || undefined, 5000, 'the prompt');
		await new Promise((resolve) => setTimeout(resolve, 200));
		for (let i = 0; i < 3000; i++) client.send({ t: 'ack', bytes: 1 });
		expect(await client.waitForClose()).toBe(1008);
		// An ack of more than is owed is a protocol error at once (issue 14.3), before the rate limit.
		expect(client.closeReason).toBe('LAB_ERR_BAD_ACK');
	});

	it('closes a socket that acks nothing, or more than it was sent, with LAB_ERR_BAD_ACK', async () => {
		for (const bytes of [0, 10_000_000]) {
			const client = await TestClient.connect(gateway, { ack: false });
			await client.waitFor(() => client.received > 0 || undefined, 5000, 'the prompt');
			client.send({ t: 'ack', bytes });
			expect(await client.waitForClose()).toBe(1008);
			expect(client.closeReason).toBe('LAB_ERR_BAD_ACK');
		}
	});
});
