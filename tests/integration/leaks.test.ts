/**
 * Thousands of connect/close cycles leave nothing behind: no file descriptor, no pty, no process.
 */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newReader, TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { eventually, sessionMembers, terminalPids } from '../helpers/processes.ts';

let gateway: RunningGateway;
beforeAll(async () => {
	gateway = await startGateway({ PODLAB_GRACE_MS: '1000', PODLAB_MAX_READERS: '1000' });
});
afterAll(async () => {
	await gateway?.stop();
});

const openFds = () => readdirSync(`/proc/${gateway.pid}/fd`).length;

describe('connect/close cycles', () => {
	it('leak no descriptor, pty or process', async () => {
		// Warm up: the first terminal loads the pty module and opens the cgroup files once.
		const warm = await TestClient.connect(gateway);
		await warm.run('true', 'warm');
		warm.close();
		await eventually(async () => (await sessionMembers(terminalPids(gateway)[0]!)).length === 0, 10_000, 'warm-up terminal reaped');
		const fdsBefore = openFds();

		const cookie = await newReader(gateway);
		const keeper = await TestClient.connect(gateway, { cookie });
		for (let cycle = 0; cycle < 2000; cycle++) {
			const client = await TestClient.connect(gateway, { cookie, since: keeper.received, keep: false });
			client.close();
			await client.waitForClose();
		}
		keeper.close();
		for (let cycle = 0; cycle < 50; cycle++) {
			const client = await TestClient.connect(gateway);
			client.send({ t: 'run', code: 'exit', block: 'bye' });
			await client.waitForClose();
		}
		await eventually(async () => {
			const alive = await Promise.all(terminalPids(gateway).map(sessionMembers));
			return alive.every((members) => members.length === 0);
		}, 20_000, 'every terminal reaped');
		await eventually(() => openFds() <= fdsBefore, 10_000, `descriptors back to ${fdsBefore} (now ${openFds()})`);
		expect(terminalPids(gateway)).toHaveLength(52);
		console.info(`2,000 reconnects + 50 shells: gateway fds ${fdsBefore} → ${openFds()}`);
	});
});
