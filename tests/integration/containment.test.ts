/**
 * A fork bomb or a memory hog in one reader's terminal stays in that terminal's cgroup: the gateway
 * and another reader's terminal keep working, and ending the terminal ends all of it.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { eventually } from '../helpers/processes.ts';
import { assertLabUsable, rootProblem, skipReason } from '../lab/lab-required.ts';

const problem = rootProblem('cgroups');
const skip = skipReason(problem);
if (skip) console.info(`skipping the containment tests: ${skip}`);
let gateway: RunningGateway;
beforeAll(async () => {
	if (skip) return;
	assertLabUsable(problem);
	gateway = await startGateway({ PODLAB_MEMORY_LIMIT: '128MiB', PODLAB_PIDS_LIMIT: '64', PODLAB_GRACE_MS: '1000' });
});
afterAll(async () => {
	await gateway?.stop();
});

/** The terminal's memory and pids cgroup directories, as the shell itself sees them. */
async function cgroupOf(client: TestClient): Promise<{ memory: string; pids: string }> {
	await client.run('grep -E "^[0-9]+:(memory|pids):" /proc/self/cgroup', 'cgroup');
	const path = (controller: string) => new RegExp(`\\n\\d+:${controller}:(\\S+)`).exec(client.plainText)![1];
	return { memory: `/sys/fs/cgroup/memory${path('memory')}`, pids: `/sys/fs/cgroup/pids${path('pids')}` };
}

describe.skipIf(skip !== null)('containment', () => {
	it('limits each terminal to its configured memory and processes', async () => {
		const client = await TestClient.connect(gateway);
		const dirs = await cgroupOf(client);
		expect(readFileSync(`${dirs.memory}/memory.limit_in_bytes`, 'utf8').trim()).toBe(String(128 * 1024 * 1024));
		expect(readFileSync(`${dirs.pids}/pids.max`, 'utf8').trim()).toBe('64');
		client.close();
	});

	it('survives a fork bomb in one terminal while another terminal still echoes', async () => {
		const bystander = await TestClient.connect(gateway);
		await bystander.run('stty -icanon', 'raw-ish');
		const bomber = await TestClient.connect(gateway, { keep: false });
		const probe = await TestClient.connect(gateway, { cookie: bomber.cookie });
		const dirs = await cgroupOf(probe);
		probe.close();
		bomber.send({ t: 'run', code: ':(){ :|:& };:', block: 'bomb' });
		await eventually(() => readFileSync(`${dirs.pids}/pids.current`, 'utf8').trim() === '64', 10_000, 'the bomb fills its pids limit');

		const roundTrips: number[] = [];
		for (const key of 'abcdefghij') roundTrips.push(await bystander.echoRoundTrip(key, 5000));
		console.info(`echo round trip during a fork bomb: max ${Math.max(...roundTrips).toFixed(1)} ms`);
		expect(Math.max(...roundTrips)).toBeLessThan(100);
		expect(await (await fetch(`${gateway.url}api/health`)).json()).toMatchObject({ ok: true });

		bomber.close();
		await eventually(() => {
			try {
				return readFileSync(`${dirs.pids}/cgroup.procs`, 'utf8').trim() === '';
			} catch {
				return true;
			}
		}, 20_000, 'the bomb killed to the last process');
		bystander.close();
	});

	it('keeps another terminal responsive while `yes` floods a stalled browser', async () => {
		const bystander = await TestClient.connect(gateway);
		await bystander.waitFor(() => bystander.received > 0 || undefined, 5000, 'prompt');
		const stalled = await TestClient.connect(gateway, { ack: false, keep: false });
		stalled.send({ t: 'run', code: 'yes', block: 'flood' });
		await stalled.waitFor(() => stalled.received > 100_000 || undefined, 5000, 'the flood');
		const roundTrips: number[] = [];
		for (const key of 'klmnopqrst') roundTrips.push(await bystander.echoRoundTrip(key, 5000));
		console.info(`echo round trip while yes floods a stalled browser: max ${Math.max(...roundTrips).toFixed(1)} ms`);
		expect(Math.max(...roundTrips)).toBeLessThan(100);
		stalled.close();
		bystander.close();
	});

	it('kills a memory hog inside its terminal and leaves the rest alone', async () => {
		const bystander = await TestClient.connect(gateway);
		const hog = await TestClient.connect(gateway);
		// tail keeps the current line in memory: /dev/zero has no newline.
		const done = await hog.run('tail /dev/zero', 'hog', 60_000);
		expect(done).toEqual({ t: 'done', block: 'hog', exit: 137 });
		expect(await hog.run('echo the shell survived', 'after')).toMatchObject({ exit: 0 });
		expect(await bystander.run('echo bystander fine', 'fine')).toMatchObject({ exit: 0 });
		expect(gateway.process.exitCode).toBeNull();
		hog.close();
		bystander.close();
	});
});
