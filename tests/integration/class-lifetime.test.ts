/**
 * Class mode's session lifetime against the real gateway: an idle warning ahead of the limit, "stay"
 * moving it, the terminals ended with LAB_ERR_IDLE when nobody stays, and the class end.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { joinClass, TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';

let gateway: RunningGateway | undefined;
afterEach(async () => {
	await gateway?.stop();
	gateway = undefined;
});

async function student(env: Record<string, string>): Promise<TestClient> {
	gateway = await startGateway({
		PODLAB_MODE: 'class',
		// Students share this machine's lab: the knowing choice that class mode on the local backend needs.
		PODLAB_ALLOW_SHARED_LAB: '1',
		PODLAB_JOIN_CODE: 'lifetime',
		PODLAB_INSTRUCTOR_TOKEN: 'lifetime-instructor-token',
		PODLAB_STATE_DIR: mkdtempSync(join(tmpdir(), 'podlab-lifetime-')),
		...env,
	});
	return TestClient.connect(gateway, { cookie: (await joinClass(gateway, 'Ada', 'lifetime')).cookie! });
}

describe('session lifetime', () => {
	it('warns before the idle limit, stays on request, and ends idle shells with LAB_ERR_IDLE', async () => {
		const client = await student({ PODLAB_IDLE_MS: '10000', PODLAB_IDLE_WARNING_MS: '8000' });
		const activeAt = Date.now();
		await client.run('echo active', 'a');
		const first = await client.waitForMessage('expiry', 8000);
		expect(first).toMatchObject({ t: 'expiry', reason: 'idle' });
		expect(first.at).toBeGreaterThanOrEqual(activeAt + 10_000);
		expect(first.at).toBeLessThan(Date.now() + 10_000);

		const stayedAt = Date.now();
		client.send({ t: 'extend' });
		const second = await client.waitFor(
			() => client.messages.filter((message) => message.t === 'expiry').at(1) as { at: number } | undefined,
			10_000,
			'a second warning',
		);
		// "Stay" moved the limit: the old one passed without the shells ending.
		expect(second.at).toBeGreaterThanOrEqual(stayedAt + 10_000);
		expect(client.closeCode).toBeNull();

		expect(await client.waitForClose(15_000)).toBe(4002);
		expect(client.closeReason).toBe('LAB_ERR_IDLE');
		expect(Date.now()).toBeGreaterThanOrEqual(second.at);
	});

	it('ends every shell at the class end, after a warning', async () => {
		const endsAt = new Date(Date.now() + 5000).toISOString();
		const client = await student({ PODLAB_CLASS_ENDS_AT: endsAt, PODLAB_IDLE_WARNING_MS: '4000' });
		await client.run('echo hello', 'h');
		expect(await client.waitForMessage('expiry', 5000)).toEqual({ t: 'expiry', reason: 'deadline', at: Date.parse(endsAt) });
		expect(await client.waitForClose(10_000)).toBe(4003);
		expect(client.messages.at(-1)).toEqual({ t: 'error', code: 'LAB_ERR_CLASS_OVER', message: 'The class is over: its lab sessions have ended.' });
	});
});
