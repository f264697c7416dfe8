/**
 * How the local backend ends terminals completely: it removes the cgroups it made, and after a crash
 * the next gateway ends what the dead one left. That no process is left after the grace period or a
 * shutdown, on every backend, is the conformance suite's (tests/conformance/).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { eventually } from '../helpers/processes.ts';
import { isAlive } from '../../server/process-tree.ts';

let gateway: RunningGateway | undefined;
afterEach(async () => {
	await gateway?.stop();
	gateway = undefined;
});

/** Starts jobs that outlive a plain hangup: a background job and one in a session of its own. */
async function startStragglers(client: TestClient): Promise<number[]> {
	// In a subshell (no job control) the job is not a group leader, so setsid does not fork and $! is the sleep.
	await client.run('sleep 300 & echo "bg=$!"; (setsid sleep 301 & echo "setsid=$!")', 'stragglers');
	const text = client.plainText;
	return [Number(/bg=(\d+)/.exec(text)![1]), Number(/setsid=(\d+)/.exec(text)![1])];
}

describe('terminal lifetime', () => {
	it('removes the terminal cgroups it made', async () => {
		if (process.getuid?.() !== 0) return;
		gateway = await startGateway({ PODLAB_GRACE_MS: '1000' });
		const client = await TestClient.connect(gateway);
		await client.run('grep -E "^[0-9]+:memory:" /proc/self/cgroup', 'where');
		const path = /\n\d+:memory:(\S+)/.exec(client.plainText)![1]!;
		const dir = `/sys/fs/cgroup/memory${path}`;
		expect(path).toMatch(new RegExp(`/podlab-${gateway.pid}/r[0-9a-f]{8}-main-1$`));
		expect(existsSync(dir)).toBe(true);
		client.close();
		await eventually(() => !existsSync(dir), 6000, `${dir} removed`);
		await gateway.stop();
		expect(existsSync(dir.replace(/\/[^/]+$/, ''))).toBe(false);
	});

	it('after a crash, the next gateway ends what the dead one left, even frozen', async () => {
		if (process.getuid?.() !== 0) return;
		const crashed = await startGateway();
		const client = await TestClient.connect(crashed);
		const [, survivor] = await startStragglers(client);
		await client.run('grep -E "^[0-9]+:freezer:" /proc/self/cgroup', 'where');
		const freezer = `/sys/fs/cgroup/freezer${/\n\d+:freezer:(\S+)/.exec(client.plainText)![1]}`;
		// As if the gateway died in the middle of ending the terminal: frozen, then SIGKILL.
		writeFileSync(`${freezer}/freezer.state`, 'FROZEN');
		crashed.process.kill('SIGKILL');
		await new Promise((resolve) => crashed.process.once('exit', resolve));
		expect(isAlive(survivor!)).toBe(true);

		gateway = await startGateway();
		await eventually(() => !isAlive(survivor!), 5000, 'the orphan killed by the next gateway');
		expect(existsSync(freezer)).toBe(false);
	});
});

