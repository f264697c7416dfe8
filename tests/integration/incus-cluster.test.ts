/**
 * Labs of one's own on an Incus cluster: two incusd members in network namespaces of this machine
 * (tests/helpers/incus-cluster.ts), the gateway talking to the first over HTTPS with podlab's client
 * certificate. Incus's scheduler places labs on both members; then, with the first member taking no
 * labs (`scheduler.instance=manual`), the terminal conformance suite and the doc-tests run in labs on
 * the member the gateway does not talk to, each lab's kernel log comes from its own member, and a
 * member that goes offline is a clear error its readers recover from when it is back.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncusApi } from '../../lab/incus/incus-api.ts';
import { Labs } from '../../server/backends/incus/labs.ts';
import { incusFixture } from '../conformance/backends.ts';
import { describeTerminalConformance } from '../conformance/terminal.conformance.ts';
import { listChapters } from '../doctest/chapters.ts';
import { describeLab } from '../doctest/lab-hooks.ts';
import { runChapterForTest } from '../doctest/run-chapters.ts';
import { joinClass, newReader, TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { createIncusCluster, incusClusterProblem, type IncusCluster } from '../helpers/incus-cluster.ts';
import { incusLabProblem, removeInstancesOf, testLabs } from '../lab/incus/incus-required.ts';
import { assertLabUsable, skipReason } from '../lab/lab-required.ts';

const problem = (await incusLabProblem()) ?? (await incusClusterProblem());
const skip = skipReason(problem);
let cluster: IncusCluster;
let api: IncusApi;
let labs: Labs;
const chapters = await listChapters();
const stateDirs: string[] = [];
const gateways: RunningGateway[] = [];

async function gateway(env: Record<string, string> = {}): Promise<RunningGateway> {
	const stateDir = mkdtempSync(join(tmpdir(), 'podlab-cluster-state-'));
	stateDirs.push(stateDir);
	const started = await startGateway({ PODLAB_LAB_BACKEND: 'incus', PODLAB_STATE_DIR: stateDir, ...cluster.env, ...env });
	gateways.push(started);
	return started;
}

async function output(client: TestClient, code: string, block: string): Promise<string> {
	const start = client.plainText.length;
	const done = await client.run(code, block, 60_000);
	expect(done.exit, client.plainText.slice(start)).toBe(0);
	return client.plainText.slice(start);
}

/** The member a reader's lab is on, from the lab's hostname as its shell prints it. */
async function memberOf(client: TestClient): Promise<string> {
	const name = /lab-[0-9a-f]{8}/.exec(await output(client, 'hostname', 'where'))![0];
	return (await labs.get(name))!.location;
}

beforeAll(async () => {
	if (skip) return;
	assertLabUsable(problem);
	cluster = await createIncusCluster(2);
	api = cluster.api();
	labs = await testLabs(undefined, api);
}, 600_000);

afterAll(async () => {
	await Promise.all(gateways.map((gw) => gw.stop()));
	if (api) await removeInstancesOf(api, stateDirs).catch(() => {});
	labs?.api.close();
	await cluster?.close();
}, 300_000);

describe.skipIf(skip !== null)(`an Incus cluster of two members${skip ? ` (skipped: ${skip})` : ''}`, () => {
	it('places readers’ labs on both members, by Incus’s scheduler', async () => {
		const gw = await gateway({ PODLAB_LAB_WARM_LABS: '0' });
		const clients: TestClient[] = [];
		const members = new Set<string>();
		for (let reader = 0; reader < 4 && members.size < 2; reader++) {
			const client = await TestClient.connect(gw, { cookie: await newReader(gw), readyTimeoutMs: 60_000 });
			clients.push(client);
			members.add(await memberOf(client));
		}
		expect([...members].sort()).toEqual(['m1', 'm2']);
		for (const client of clients) client.close();
		// From here on the first member takes no labs: every lab is on a member the gateway does not talk to.
		await cluster.members[0]!.incus('cluster', 'set', 'm1', 'scheduler.instance', 'manual');
	}, 300_000);

	it('routes a lab’s kernel log from its own member: an OOM in a lab on m2 reaches its dmesg at once', async () => {
		const gw = await gateway({ PODLAB_LAB_WARM_LABS: '1' });
		const client = await TestClient.connect(gw, { cookie: await newReader(gw), readyTimeoutMs: 60_000 });
		expect(await memberOf(client)).toBe('m2');
		const oom = await output(client, "podman run --rm --memory 100m docker.io/library/busybox:latest tail /dev/zero; echo \"exit $?\"; dmesg | grep -c 'Memory cgroup out of memory: Killed process'", 'oom');
		expect(oom).toContain('exit 137');
		expect(oom).toMatch(/^1\s*$/m);
		client.close();
	}, 180_000);
});

describeTerminalConformance(
	incusFixture({
		name: 'incus cluster (labs on a member the gateway does not talk to)',
		problem: () => problem,
		incus: () => cluster.env,
		api: () => cluster.api(),
	}),
);

describe.skipIf(skip !== null)(`the chapters in labs on a cluster member${skip ? ` (skipped: ${skip})` : ''}`, () => {
	let gw: RunningGateway;
	beforeAll(async () => {
		gw = await gateway({ PODLAB_LAB_WARM_LABS: '1' });
	});

	it.each(chapters)('%s: every block passes in a fresh lab on m2', async (chapter) => {
		const { failures, skipped } = await runChapterForTest(gw.url, chapter, { describeLab });
		expect(failures, failures.join('\n\n')).toEqual([]);
		expect(skipped).toBe(0);
		const placed = (await labs.list()).filter((lab) => lab.stateDir === stateDirs.at(-1));
		expect(placed.length).toBeGreaterThan(0);
		expect(new Set(placed.map((lab) => lab.location))).toEqual(new Set(['m2']));
	}, 600_000);
});

describe.skipIf(skip !== null)(`a member that goes offline${skip ? ` (skipped: ${skip})` : ''}`, () => {
	it('is a clear error for its readers and on /api/lab, and they carry on when it is back', async () => {
		await cluster.members[0]!.incus('cluster', 'set', 'm1', 'scheduler.instance', 'manual');
		const gw = await gateway({ PODLAB_MODE: 'class', PODLAB_JOIN_CODE: 'cluster-class', PODLAB_INSTRUCTOR_TOKEN: 'cluster-instructor-token', PODLAB_LAB_WARM_LABS: '0' });
		const joined = await joinClass(gw, 'nia', 'cluster-class');
		expect(joined.status, JSON.stringify(joined.body)).toBe(200);
		const first = await TestClient.connect(gw, { cookie: joined.cookie!, readyTimeoutMs: 60_000 });
		expect(await memberOf(first)).toBe('m2');
		await output(first, 'echo kept > /root/file', 'before');
		first.close();
		const m2 = cluster.members[1]!;
		await m2.kill();
		try {
			// Incus marks a member offline after its missed heartbeats (20 s by default).
			let answer: { lab?: { incus?: { members?: Array<{ name: string; status: string }>; missing?: string[] } } } = {};
			const m2Status = async () => {
				answer = await (await fetch(`${gw.url}api/lab`, { headers: { origin: gw.origin } })).json();
				return answer.lab?.incus?.members?.find((member) => member.name === 'm2')?.status;
			};
			await expect.poll(m2Status, { timeout: 60_000, interval: 2_000 }).toBe('Offline');
			expect(answer.lab!.incus!.members!.find((member) => member.name === 'm1')?.status).toBe('Online');
			const refused = await TestClient.connect(gw, { cookie: joined.cookie!, readyTimeoutMs: 60_000 }).then(
				() => null,
				(error: { code?: string; closeCode?: number }) => error,
			);
			expect(refused).toMatchObject({ code: 'LAB_ERR_HOST_UNREACHABLE', closeCode: 4005 });
			expect((await fetch(`${gw.url}api/health`)).status).toBe(200);
		} finally {
			await m2.start();
		}
		// The member is online again at its next heartbeat; the reader's page retries, as this loop does.
		let back: TestClient | null = null;
		for (const started = Date.now(); !back && Date.now() - started < 60_000; ) {
			back = await TestClient.connect(gw, { cookie: joined.cookie!, readyTimeoutMs: 60_000 }).catch(async (error: { code?: string }) => {
				// What the gateway said about the lab while its member came back.
				expect(error.code, gw.logs().slice(-4000)).toBe('LAB_ERR_HOST_UNREACHABLE');
				await new Promise((resolve) => setTimeout(resolve, 2_000));
				return null;
			});
		}
		expect(await output(back!, 'cat /root/file', 'after')).toContain('kept');
		back!.close();
	}, 300_000);
});
