/**
 * Flow control at the gateway: output resumes once a client acks, and acks count against the message
 * rate only as far as a client does not owe them. What every backend must do under pressure (bounded
 * under `yes` into a stalled client, Ctrl-C while paused, no lost byte) is in tests/conformance/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/client.ts';
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
