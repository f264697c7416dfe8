/**
 * Flow control at the gateway: output resumes once a client acks, and acks count against the message
 * rate only as far as a client does not owe them. What every backend must do under pressure (bounded
 * under `yes` into a stalled client, Ctrl-C while paused, no lost byte) is in tests/conformance/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckCoalescer } from '../../src/terminal/connection/ack-coalescer.ts';
import { TestClient } from '../helpers/client.ts';
import { FloodCounter, floodCommand } from '../helpers/flood.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';

let gateway: RunningGateway;
beforeAll(async () => {
	gateway = await startGateway();
});
afterAll(async () => {
	await gateway?.stop();
});

describe('flow control', () => {
	it('resumes output once the client acks', async () => {
		const client = await TestClient.connect(gateway, { keep: false });
		client.send({ t: 'run', code: 'yes podlab | head -c 5000000 > /dev/null; head -c 3000000 /dev/zero | tr "\\0" "y"; echo', block: 'bulk' });
		await client.waitFor(() => client.messages.some((m) => m.t === 'done') || undefined, 30_000, 'done');
		expect(client.received).toBeGreaterThan(3_000_000);
		client.close();
	});
});

describe("the site's ack policy", () => {
	it('sends no ack for keys typed into a real shell and echoed, nor for a short command', async () => {
		const client = await TestClient.connect(gateway, { ack: 'site' });
		await client.waitFor(() => client.received > 0 || undefined, 5000, 'the prompt');
		const typed = `echo typed-${'k'.repeat(120)}`;
		// One frame per key, as a reader types, each echoed before the next.
		for (const key of typed) {
			const before = client.received;
			client.type(key);
			await client.waitFor(() => client.received > before || undefined, 5000, `the echo of ${key}`);
		}
		const line = `typed-${'k'.repeat(120)}`;
		client.type('\r');
		await client.waitFor(() => client.plainText.split('\n').includes(line) || undefined, 5000, 'the command output');
		const ready = client.messages.find((message) => message.t === 'ready');
		expect(ready?.t === 'ready' && client.received < ready.ackBytes).toBe(true);
		expect(client.frames).toBeGreaterThan(typed.length);
		expect(client.acks).toBe(0);
		client.close();
	});

	it('brings a paused flood back, every byte, with acks only in batches of ready.ackBytes and no timer', async () => {
		// A slow screen: what arrived is rendered every 20 ms, so output runs far ahead and the gateway
		// pauses the shell again and again; only the batch acks bring it back.
		const arrived: number[] = [];
		const flood = new FloodCounter();
		let received = 0;
		let acked = 0;
		let maxUnacked = 0;
		const ackSizes: number[] = [];
		const client = await TestClient.connect(gateway, {
			keep: false,
			ack: false,
			onOutput: (chunk) => {
				received += chunk.length;
				maxUnacked = Math.max(maxUnacked, received - acked);
				arrived.push(chunk.length);
				flood.feed(chunk);
			},
		});
		const ready = client.messages.find((message) => message.t === 'ready');
		if (ready?.t !== 'ready') throw new Error('no ready');
		const acks = new AckCoalescer(
			(bytes) => {
				acked += bytes;
				ackSizes.push(bytes);
				client.send({ t: 'ack', bytes });
			},
			{ batchBytes: ready.ackBytes },
		);
		const screen = setInterval(() => {
			for (const bytes of arrived.splice(0)) acks.rendered(bytes);
		}, 20);
		try {
			// The shell exits after the flood: a prompt after it could hold an '@' of its own.
			client.send({ t: 'run', code: floodCommand(20_000_000, 'exit 7'), block: 'slow-screen' });
			expect(await client.waitForMessage('exit', 60_000)).toEqual({ t: 'exit', code: 7 });
			expect(flood.count).toBe(20_000_000);
			// Bounded: the shell was paused near the high watermark (384 KiB), far below the flood.
			expect(maxUnacked).toBeLessThan(2 * 1024 * 1024);
			expect(ackSizes.every((bytes) => bytes >= ready.ackBytes)).toBe(true);
			// Once the screen has caught up, what is left unacknowledged is less than one batch.
			await new Promise((resolve) => setTimeout(resolve, 100));
			expect(arrived).toEqual([]);
			expect(received - acked).toBe(acks.pendingBytes);
			expect(received - acked).toBeLessThan(ready.ackBytes);
		} finally {
			clearInterval(screen);
			client.close();
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
		// An ack of more than is owed is a protocol error at once, before the rate limit.
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
