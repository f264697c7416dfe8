/**
 * The lxc backend through the real gateway and protocol: each student lands in a lab of their own
 * (hostname, files, pods), shells and pods survive a gateway kill -9, the kernel's OOM report for a
 * container reaches that lab's `dmesg` and no other, a reset gives a clean lab in under 2 s, and
 * freeing the seats leaves no lab behind.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LAB_LIMITS } from '../../lab/lxc/lab-config.ts';
import { Labs } from '../../server/backends/lxc/labs.ts';
import { LxcBackend } from '../../server/backends/lxc/lxc.ts';
import { joinClass as joinAs, TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { assertLabUsable, skipReason } from '../lab/lab-required.ts';
import { lxcLabProblem } from '../lab/lxc/lxc-required.ts';

const problem = await lxcLabProblem();
const skip = skipReason(problem);
const JOIN_CODE = 'lxc-labs';
const labs = new Labs(DEFAULT_LAB_LIMITS);
let stateDir = '';
let gateways: RunningGateway[] = [];
const cookies = new Map<string, string>();
const ids = new Map<string, string>();
const INSTRUCTOR_TOKEN = 'lxc-tests-instructor-token';

/** Labs that existed before the tests: not the tests' to count or remove. */
let before = new Set<string>();

async function gateway(): Promise<RunningGateway> {
	const started = await startGateway({
		PODLAB_MODE: 'class',
		PODLAB_JOIN_CODE: JOIN_CODE,
		PODLAB_INSTRUCTOR_TOKEN: INSTRUCTOR_TOKEN,
		PODLAB_LAB_BACKEND: 'lxc',
		PODLAB_LXC_WARM_LABS: '1',
		PODLAB_STATE_DIR: stateDir,
	});
	gateways.push(started);
	return started;
}

async function connect(gw: RunningGateway, student: string, options: { term?: string } = {}): Promise<TestClient> {
	let cookie = cookies.get(student);
	if (!cookie) {
		const joined = await joinAs(gw, student, JOIN_CODE);
		expect(joined.status).toBe(200);
		cookie = joined.cookie!;
		cookies.set(student, cookie);
		ids.set(student, joined.body.id!);
	}
	return TestClient.connect(gw, { cookie, ...options });
}

/** Runs `code` and returns what it printed (the lines after the typed command). */
async function output(client: TestClient, code: string, block: string): Promise<string> {
	const start = client.plainText.length;
	const done = await client.run(code, block, 60_000);
	expect(done.exit, client.plainText.slice(start)).toBe(0);
	return client.plainText.slice(start);
}

async function ourLabs() {
	return (await labs.list()).filter((lab) => !before.has(lab.name));
}

describe.skipIf(skip !== null)(`lxc backend${skip ? ` (skipped: ${skip})` : ''}`, () => {
	beforeAll(async () => {
		assertLabUsable(problem);
		before = new Set((await labs.list()).map((lab) => lab.name));
		stateDir = mkdtempSync(join(tmpdir(), 'podlab-lxc-state-'));
	});
	afterEach(async () => {
		await Promise.all(gateways.map((gw) => gw.stop()));
		gateways = [];
	});
	afterAll(async () => {
		for (const lab of await ourLabs()) await labs.destroy(lab.name);
	}, 60_000);

	it('gives each student a lab of their own, whose shells and pods outlive a gateway kill -9', async () => {
		const first = await gateway();
		const ann = await connect(first, 'ann');
		const bob = await connect(first, 'bob');
		const annHost = (await output(ann, 'hostname', 'h')).match(/podlab-lab-\d\d/)?.[0];
		const bobHost = (await output(bob, 'hostname', 'h')).match(/podlab-lab-\d\d/)?.[0];
		expect(annHost).toBeTruthy();
		expect(bobHost).toBeTruthy();
		expect(annHost).not.toBe(bobHost);
		await output(ann, 'export ANN_VAR=kept; podman pod create --name ann-pod >/dev/null; echo made', 'pod');
		expect(await output(bob, "podman pod ls --format '{{.Name}}' | wc -l", 'bob-pods')).toMatch(/^\s*0\s*$/m);

		first.process.kill('SIGKILL');
		await new Promise((resolve) => first.process.once('exit', resolve));

		const second = await gateway();
		const again = await connect(second, 'ann');
		const after = await output(again, `echo "var=$ANN_VAR host=$(hostname)"; podman pod ls --format '{{.Name}}'`, 'after');
		expect(after).toContain(`var=kept host=${annHost}`);
		expect(after).toContain('ann-pod');
		again.close();
	}, 180_000);

	it('shows a container’s OOM report in its own lab’s dmesg, and in no other', async () => {
		const gw = await gateway();
		const ann = await connect(gw, 'ann');
		const bob = await connect(gw, 'bob');
		// tail holds the whole of /dev/zero as one line: memory grows until the 100 MiB limit kills it.
		const oom = await output(ann, "podman run --rm --memory 100m docker.io/library/busybox:latest tail /dev/zero; echo \"exit $?\"", 'oom');
		expect(oom).toContain('exit 137');
		const annLog = await output(ann, 'dmesg | grep -E "invoked oom-killer|Killed process|oom_memcg" | tail -n 3', 'dmesg');
		expect(annLog).toMatch(/invoked oom-killer/);
		expect(annLog).toMatch(/Memory cgroup out of memory: Killed process \d+ \(tail\)/);
		// Paths as the lab's cgroup namespace shows them: no host prefix.
		expect(annLog).not.toContain('lxc.payload');
		const bobLog = await output(bob, 'dmesg | wc -l', 'bob-dmesg');
		expect(bobLog).toMatch(/^\s*0\s*$/m);
	}, 120_000);

	it('resets a student’s lab over the gateway in under 2 s: the terminal says so and its reconnect lands in the new lab; the roster shows the lab', async () => {
		const gw = await gateway();
		const cat = await connect(gw, 'cat');
		const oldLab = (await output(cat, 'echo mine > /root/file; hostname', 'before')).match(/podlab-lab-\d\d/)?.[0];
		const headers = { authorization: `Bearer ${INSTRUCTOR_TOKEN}`, origin: gw.origin };
		const roster = await (await fetch(`${gw.url}api/instructor/students`, { headers })).json();
		const listed = roster.students.find((student: { id: string }) => student.id === ids.get('cat'));
		expect(listed.lab).toMatchObject({ name: oldLab, state: 'running', memoryBytes: expect.any(Number) });
		expect(listed.lab.memoryBytes).toBeGreaterThan(1024 * 1024);

		const started = performance.now();
		const reset = await fetch(`${gw.url}api/lab/reset`, { method: 'POST', headers: { cookie: cookies.get('cat')!, origin: gw.origin } });
		const resetMs = performance.now() - started;
		const body = await reset.json();
		expect(reset.status, JSON.stringify(body)).toBe(200);
		console.info(`lxc: reset over the gateway in ${resetMs.toFixed(0)} ms (backend ${body.ms} ms)`);
		expect(resetMs).toBeLessThan(2000);
		expect(body).toMatchObject({ student: ids.get('cat'), terminalsEnded: 1 });
		expect(body.lab).not.toBe(oldLab);
		await cat.waitForText('Your lab was reset: a fresh, empty one is starting, and this terminal reconnects to it.');
		expect(await cat.waitForClose()).toBe(1001);
		expect(cat.messages.at(-1)).toMatchObject({ t: 'error', code: 'LAB_ERR_SHUTDOWN' });

		const again = await connect(gw, 'cat');
		const after = await output(again, 'hostname; ls /root/file 2>&1 || true', 'after');
		expect(after).toContain(body.lab);
		expect(after).toContain('No such file');
		again.close();
	}, 120_000);

	it('refuses a reset on a backend without labs of one’s own, and from another site', async () => {
		const local = await startGateway({ PODLAB_LAB_BACKEND: 'local' });
		gateways.push(local);
		const session = await fetch(`${local.url}api/session`, { headers: { origin: local.origin } });
		const cookie = session.headers.get('set-cookie')!.split(';')[0]!;
		const refused = await fetch(`${local.url}api/lab/reset`, { method: 'POST', headers: { cookie, origin: local.origin } });
		expect(refused.status).toBe(409);
		expect(await refused.json()).toEqual({
			code: 'LAB_ERR_RESET_UNSUPPORTED',
			message: 'This lab cannot be reset: its backend has no lab of one’s own to replace (only the lxc backend resets labs).',
		});
		const foreign = await fetch(`${local.url}api/lab/reset`, { method: 'POST', headers: { cookie, origin: 'https://evil.example' } });
		expect(foreign.status).toBe(403);
		expect(await foreign.json()).toMatchObject({ code: 'LAB_ERR_ORIGIN' });
	});

	it('resets a lab in under 2 s to a clean one, and removes every lab when the seats are freed', async () => {
		const backend = await LxcBackend.create({ limits: DEFAULT_LAB_LIMITS, warmLabs: 1, idleMs: 0, logger: pino({ level: 'silent' }) });
		try {
			await backend.execIn('ann', ['sh', '-c', 'echo mine > /root/file; podman pod create --name reset-pod >/dev/null']);
			const old = await backend.labOf('ann');
			await backend.warm();
			const started = performance.now();
			const fresh = await backend.resetLab('ann');
			const resetMs = performance.now() - started;
			expect(fresh).not.toBe(old);
			expect(resetMs).toBeLessThan(2000);
			const clean = await backend.execIn('ann', ['sh', '-c', "ls /root/file 2>&1; podman pod ls --format '{{.Name}}'"]);
			expect(clean.stdout).toContain('No such file');
			expect(clean.stdout).not.toContain('reset-pod');
			await backend.endReader('ann');
		} finally {
			await backend.close();
		}
		const gw = await gateway();
		for (const student of ['ann', 'bob', 'cat']) {
			const freed = await fetch(`${gw.url}api/instructor/students/${ids.get(student)}`, {
				method: 'DELETE',
				headers: { authorization: `Bearer ${INSTRUCTOR_TOKEN}`, origin: gw.origin },
			});
			expect(freed.status, await freed.text()).toBeLessThan(300);
		}
		const owned = (await ourLabs()).filter((lab) => lab.owner !== null);
		expect(owned).toEqual([]);
	}, 120_000);
});
