/**
 * The incus backend through the real gateway and protocol: each student lands in a lab of their own
 * (hostname, files, pods), shells and pods outlive a gateway kill -9, the kernel's OOM report for a
 * container reaches that lab's `dmesg` and no other, a reset gives a clean lab, an idle lab is
 * stopped and comes back with its files and pods, nothing is orphaned and nothing shared by accident
 * between gateways, and Incus going away is a clear error the gateway recovers from by itself.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { labImageFingerprint } from '../../lab/incus/base.ts';
import { LOCAL_SOCKET, TERMINAL_RELAY_BINARY } from '../../lab/incus/names.ts';
import { readGatewayId } from '../../server/backends/incus/gateway-identity.ts';
import type { Labs } from '../../server/backends/incus/labs.ts';
import { terminalSocketDir } from '../../server/backends/incus/terminal-sockets.ts';
import { joinClass as joinAs, TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { incusLabProblem, localApi, removeInstancesOf, testLabs } from '../lab/incus/incus-required.ts';
import { assertLabUsable, skipReason } from '../lab/lab-required.ts';

const problem = await incusLabProblem();
const skip = skipReason(problem);
const JOIN_CODE = 'incus-labs';
const INSTRUCTOR_TOKEN = 'incus-tests-instructor-token';
const LAB_NAME = /lab-[0-9a-f]{8}/;
let labs: Labs;
let gateways: RunningGateway[] = [];
const stateDirs: string[] = [];
/** Per state directory: student name → cookie and id. */
const students = new Map<string, { cookie: string; id: string }>();

function newStateDir(): string {
	const dir = mkdtempSync(join(tmpdir(), 'podlab-incus-state-'));
	stateDirs.push(dir);
	return dir;
}

async function gateway(stateDir: string, env: Record<string, string> = {}): Promise<RunningGateway> {
	const started = await startGateway({
		PODLAB_MODE: 'class',
		PODLAB_JOIN_CODE: JOIN_CODE,
		PODLAB_INSTRUCTOR_TOKEN: INSTRUCTOR_TOKEN,
		PODLAB_LAB_BACKEND: 'incus',
		PODLAB_LAB_WARM_LABS: '1',
		PODLAB_STATE_DIR: stateDir,
		...env,
	});
	gateways.push(started);
	return started;
}

async function student(gw: RunningGateway, stateDir: string, name: string): Promise<{ cookie: string; id: string }> {
	const key = `${stateDir}:${name}`;
	let known = students.get(key);
	if (!known) {
		const joined = await joinAs(gw, name, JOIN_CODE);
		expect(joined.status, JSON.stringify(joined.body)).toBe(200);
		known = { cookie: joined.cookie!, id: joined.body.id! };
		students.set(key, known);
	}
	return known;
}

async function connect(gw: RunningGateway, stateDir: string, name: string, options: { term?: string } = {}): Promise<TestClient> {
	const { cookie } = await student(gw, stateDir, name);
	return TestClient.connect(gw, { cookie, readyTimeoutMs: 30_000, ...options });
}

/** Runs `code` and returns what it printed (the lines after the typed command). */
async function output(client: TestClient, code: string, block: string): Promise<string> {
	const start = client.plainText.length;
	const done = await client.run(code, block, 60_000);
	expect(done.exit, client.plainText.slice(start)).toBe(0);
	return client.plainText.slice(start);
}

/** The warm labs (running, no owner yet) of the gateway with state directory `stateDir`. */
async function warmLabs(stateDir: string) {
	return (await labs.list()).filter((lab) => lab.stateDir === stateDir && lab.owner === null && lab.running);
}

async function labOf(owner: { id: string }) {
	return (await labs.list()).find((lab) => lab.owner === owner.id) ?? null;
}

/** A unix socket that passes everything to Incus's, and can be taken away and brought back: Incus "down" and "up". */
class IncusProxy {
	readonly path = join(mkdtempSync(join(tmpdir(), 'podlab-incus-proxy-')), 'unix.socket');
	#server: Server | null = null;
	readonly #sockets = new Set<Socket>();

	async up(): Promise<void> {
		rmSync(this.path, { force: true });
		this.#server = createServer((client) => {
			const incus = createConnection(LOCAL_SOCKET);
			for (const socket of [client, incus]) {
				this.#sockets.add(socket);
				socket.on('close', () => this.#sockets.delete(socket));
				socket.on('error', () => {});
			}
			client.pipe(incus).pipe(client);
		});
		await new Promise<void>((resolve) => this.#server!.listen(this.path, resolve));
	}

	async down(): Promise<void> {
		for (const socket of this.#sockets) socket.destroy();
		await new Promise((resolve) => (this.#server ? this.#server.close(resolve) : resolve(null)));
		this.#server = null;
	}
}

describe.skipIf(skip !== null)(`incus backend${skip ? ` (skipped: ${skip})` : ''}`, () => {
	beforeAll(async () => {
		assertLabUsable(problem);
		labs = await testLabs();
	});
	afterEach(async () => {
		await Promise.all(gateways.map((gw) => gw.stop()));
		gateways = [];
	});
	afterAll(async () => {
		if (labs) await removeInstancesOf(labs.api, stateDirs);
		labs?.api.close();
	}, 120_000);

	it('gives each student a lab of their own, whose shells and pods outlive a gateway kill -9', async () => {
		const state = newStateDir();
		const first = await gateway(state);
		const ann = await connect(first, state, 'ann');
		const bob = await connect(first, state, 'bob');
		const annHost = (await output(ann, 'hostname', 'h')).match(LAB_NAME)?.[0];
		const bobHost = (await output(bob, 'hostname', 'h')).match(LAB_NAME)?.[0];
		expect(annHost).toBeTruthy();
		expect(bobHost).toBeTruthy();
		expect(annHost).not.toBe(bobHost);
		await output(ann, 'export ANN_VAR=kept; podman pod create --name ann-pod >/dev/null; echo made', 'pod');
		expect(await output(bob, "podman pod ls --format '{{.Name}}' | wc -l", 'bob-pods')).toMatch(/^\s*0\s*$/m);

		first.process.kill('SIGKILL');
		await new Promise((resolve) => first.process.once('exit', resolve));

		const second = await gateway(state);
		const again = await connect(second, state, 'ann');
		const after = await output(again, `echo "var=$ANN_VAR host=$(hostname)"; podman pod ls --format '{{.Name}}'`, 'after');
		expect(after).toContain(`var=kept host=${annHost}`);
		expect(after).toContain('ann-pod');
		again.close();
	}, 180_000);

	it('carries a lab’s terminals over the gateway’s own socket, and over Incus for a lab that does not mount it', async () => {
		const state = newStateDir();
		const gw = await gateway(state);
		const kai = await connect(gw, state, 'kai');
		const lab = (await output(kai, 'hostname', 'h')).match(LAB_NAME)![0];
		const socket = join(terminalSocketDir((await readGatewayId(state))!, lab), 'terminals.sock');
		// The gateway's end of each terminal's connection (a unix socket accepted from a lab is in the lab's network namespace).
		const init = (await labs.initPid(lab))!;
		const connections = () => execFileSync('nsenter', [`--net=/proc/${init}/ns/net`, 'ss', '-xH', 'state', 'connected'], { encoding: 'utf8' }).split('\n').filter((line) => line.includes(` ${socket} `)).length;
		expect(await output(kai, 'ls -l /var/lib/podlab-gateway/terminals.sock', 'mount')).toMatch(/^s.* \/var\/lib\/podlab-gateway\/terminals\.sock$/m);
		expect(connections()).toBe(1);

		// As a lab on another member of a cluster, where the directory does not exist.
		const instance = await labs.api.get<{ devices: Record<string, unknown> }>(`/1.0/instances/${lab}`);
		const { terminals, ...devices } = instance.devices;
		expect(terminals).toBeTruthy();
		await labs.api.call('PUT', `/1.0/instances/${lab}`, { body: { ...instance, devices } });
		const second = await connect(gw, state, 'kai', { term: 'second' });
		expect(await output(second, 'echo over incus; hostname', 'h')).toContain(lab);
		expect(connections()).toBe(1);
		// The log says which path each took.
		const paths = gw.logs().split('\n').filter((line) => line.includes('incus terminal attached')).map((line) => (JSON.parse(line) as { path: string }).path);
		expect(paths).toEqual(['socket', 'exec']);
		// Both kinds live side by side, each with its shell.
		expect(await output(kai, 'echo still direct', 'again')).toContain('still direct');
		// A gateway that stops lets go of its connections; the relay keeps the shell.
		expect(await gw.stop()).toBe(0);
		for (const deadline = Date.now() + 5_000; connections() > 0 && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 50));
		expect(connections()).toBe(0);
	}, 120_000);

	it('shows a container’s OOM report in its own lab’s dmesg at once, and in no other', async () => {
		const state = newStateDir();
		const gw = await gateway(state);
		const ann = await connect(gw, state, 'ann');
		const bob = await connect(gw, state, 'bob');
		// tail holds the whole of /dev/zero as one line: memory grows until the 100 MiB limit kills it.
		const oom = await output(ann, "podman run --rm --memory 100m docker.io/library/busybox:latest tail /dev/zero; echo \"exit $?\"; dmesg | grep -E 'invoked oom-killer|Killed process|oom_memcg' | tail -n 3", 'oom');
		expect(oom).toContain('exit 137');
		expect(oom).toMatch(/invoked oom-killer/);
		expect(oom).toMatch(/Memory cgroup out of memory: Killed process \d+ \(tail\)/);
		// Paths as the lab's cgroup namespace shows them: no host prefix.
		expect(oom).not.toContain('lxc.payload');
		expect(await output(bob, 'dmesg | wc -l', 'bob-dmesg')).toMatch(/^\s*0\s*$/m);
	}, 120_000);

	it('resets a student’s lab over the gateway in under 2 s: the terminal says so and its reconnect lands in the new lab; the roster shows the lab', async () => {
		const state = newStateDir();
		const gw = await gateway(state);
		const cat = await connect(gw, state, 'cat');
		const catId = (await student(gw, state, 'cat')).id;
		const oldLab = (await output(cat, 'echo mine > /root/file; hostname', 'before')).match(LAB_NAME)?.[0];
		const headers = { authorization: `Bearer ${INSTRUCTOR_TOKEN}`, origin: gw.origin };
		const roster = await (await fetch(`${gw.url}api/instructor/students`, { headers })).json();
		const listed = roster.students.find((student: { id: string }) => student.id === catId);
		expect(listed.lab).toMatchObject({ name: oldLab, state: 'running', memoryBytes: expect.any(Number) });
		expect(listed.lab.memoryBytes).toBeGreaterThan(1024 * 1024);

		const started = performance.now();
		const reset = await fetch(`${gw.url}api/lab/reset`, { method: 'POST', headers: { cookie: (await student(gw, state, 'cat')).cookie, origin: gw.origin } });
		const resetMs = performance.now() - started;
		const body = await reset.json();
		expect(reset.status, JSON.stringify(body)).toBe(200);
		console.info(`incus: reset over the gateway in ${resetMs.toFixed(0)} ms (backend ${body.ms} ms)`);
		expect(resetMs).toBeLessThan(2000);
		expect(body).toMatchObject({ student: catId, terminalsEnded: 1 });
		expect(body.lab).not.toBe(oldLab);
		await cat.waitForText('Your lab was reset: a fresh, empty one is starting, and this terminal reconnects to it.');
		expect(await cat.waitForClose()).toBe(4013);
		expect(cat.messages.at(-1)).toMatchObject({ t: 'error', code: 'LAB_ERR_LAB_RESET' });

		const again = await connect(gw, state, 'cat');
		const after = await output(again, 'hostname; ls /root/file 2>&1 || true', 'after');
		expect(after).toContain(body.lab);
		expect(after).toContain('No such file');
		again.close();
		// The old lab goes in the background.
		await expect.poll(async () => (await labs.get(oldLab!)) === null, { timeout: 30_000 }).toBe(true);
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
			message: 'This lab cannot be reset: its backend has no lab of one’s own to replace (only the incus backend resets labs).',
		});
		const foreign = await fetch(`${local.url}api/lab/reset`, { method: 'POST', headers: { cookie, origin: 'https://evil.example' } });
		expect(foreign.status).toBe(403);
		expect(await foreign.json()).toMatchObject({ code: 'LAB_ERR_ORIGIN' });
	});

	it('stops a lab its student has left, keeping its files and pods, and starts it again for the next terminal', async () => {
		const state = newStateDir();
		const gw = await gateway(state, { PODLAB_LAB_IDLE_STOP_MS: '10000', PODLAB_GRACE_MS: '1000' });
		const dee = await connect(gw, state, 'dee');
		const id = (await student(gw, state, 'dee')).id;
		await output(dee, 'echo kept > /root/file; podman pod create --name dee-pod >/dev/null; echo ok', 'before');
		dee.close();
		// The terminal ends after its grace period; the lab stops after the idle time.
		await expect.poll(async () => (await labOf({ id }))?.status, { timeout: 30_000, interval: 500 }).toBe('Stopped');
		const stopped = await labOf({ id });
		expect(stopped!.lastUsed).toBeGreaterThan(Date.now() - 60_000);

		const started = performance.now();
		const again = await connect(gw, state, 'dee');
		const promptMs = performance.now() - started;
		console.info(`incus: a stopped lab started again for a terminal in ${promptMs.toFixed(0)} ms`);
		const after = await output(again, "cat /root/file; podman pod ls --format '{{.Name}}'", 'after');
		expect(after).toContain('kept');
		expect(after).toContain('dee-pod');
		expect((await labOf({ id }))!.name).toBe(stopped!.name);
		again.close();
	}, 120_000);

	it('gives a student a new lab when theirs was deleted behind the gateway’s back, and starts one that was stopped there', async () => {
		const state = newStateDir();
		const gw = await gateway(state);
		const ola = await connect(gw, state, 'ola');
		const id = (await student(gw, state, 'ola')).id;
		const first = (await labOf({ id }))!.name;
		ola.close();
		await labs.stop(first);
		const stopped = await connect(gw, state, 'ola');
		expect(await output(stopped, 'hostname', 'h')).toContain(first);
		stopped.close();
		await labs.destroy(first);
		const again = await connect(gw, state, 'ola');
		const second = (await output(again, 'hostname', 'h')).match(LAB_NAME)?.[0];
		expect(second).toBeTruthy();
		expect(second).not.toBe(first);
		expect((await labOf({ id }))!.name).toBe(second);
		again.close();
	}, 120_000);

	it('removes a warm lab made from an older lab image (a terminal relay that cannot use the gateway’s socket) when it takes over, and gives the student one that works', async () => {
		const state = newStateDir();
		const first = await gateway(state);
		const warmOf = () => warmLabs(state);
		let old: string[] = [];
		for (const deadline = Date.now() + 60_000; old.length === 0 && Date.now() < deadline; ) {
			old = (await warmOf()).map((lab) => lab.name);
			if (old.length === 0) await new Promise((resolve) => setTimeout(resolve, 250));
		}
		expect(old.length, 'a warm lab').toBeGreaterThan(0);
		expect(await first.stop()).toBe(0);
		// As a lab made from the image before its relay spoke the gateway's socket (`protocol` was unknown to it).
		const older = `#!/bin/sh\necho 'usage: podlab-terminal-relay attach SESSION NONCE COLS ROWS TERM | end PATTERN' >&2\nexit 2\n`;
		for (const name of old) expect((await labs.run(name, ['sh', '-c', `cat > ${TERMINAL_RELAY_BINARY}`], { input: older })).code).toBe(0);

		const second = await gateway(state);
		const pia = await connect(second, state, 'pia');
		const host = (await output(pia, 'hostname', 'h')).match(LAB_NAME)?.[0];
		expect(host).toBeTruthy();
		expect(old).not.toContain(host);
		// Removed in the background once its check failed.
		let left = old;
		for (const deadline = Date.now() + 30_000; left.length > 0 && Date.now() < deadline; ) {
			const names = new Set((await labs.list()).map((lab) => lab.name));
			left = old.filter((name) => names.has(name));
			if (left.length > 0) await new Promise((resolve) => setTimeout(resolve, 250));
		}
		expect(left, 'old warm labs left').toEqual([]);
		pia.close();
	}, 180_000);

	it('replaces a warm lab made from an earlier lab image when it takes over (the image was rebuilt meanwhile), even when its relay would do', async () => {
		const state = newStateDir();
		const first = await gateway(state);
		const warmOf = () => warmLabs(state);
		await expect.poll(async () => (await warmOf()).length, { timeout: 60_000 }).toBeGreaterThan(0);
		const old = (await warmOf()).map((lab) => lab.name);
		expect(await first.stop()).toBe(0);
		// As Incus marks a lab made from another image: a `lab:setup` rebuilt the image since.
		for (const name of old) await labs.api.call('PATCH', `/1.0/instances/${name}`, { body: { config: { 'volatile.base_image': 'f'.repeat(64) } } });

		const second = await gateway(state);
		const left = async () => {
			const names = new Set((await labs.list()).map((lab) => lab.name));
			return old.filter((name) => names.has(name));
		};
		await expect.poll(left, { timeout: 30_000 }).toEqual([]);
		await expect.poll(async () => (await warmOf()).length, { timeout: 60_000 }).toBeGreaterThan(0);
		const current = await labImageFingerprint(labs.api);
		for (const lab of await warmOf()) expect(lab.image).toBe(current);
		const ria = await connect(second, state, 'ria');
		expect((await output(ria, 'hostname', 'h')).match(LAB_NAME)?.[0]).not.toBeOneOf(old);
		ria.close();
	}, 180_000);

	it('builds this gateway’s terminal relay in a student’s lab made from an older lab image: the lab keeps its files, its old shells start anew', async () => {
		const state = newStateDir();
		const first = await gateway(state);
		const quin = await connect(first, state, 'quin');
		const before = await output(quin, 'echo kept > /root/kept.txt; echo "lab $(hostname) shell $$"', 'before');
		const [, lab, oldShell] = before.match(/lab (lab-[0-9a-f]{8}) shell (\d+)/) ?? [];
		expect(lab, before).toBeTruthy();
		quin.close();
		expect(await first.stop()).toBe(0);
		// As a lab made from the image before its relay spoke the gateway's socket (`protocol` was
		// unknown to it); its shell's daemon runs on.
		const older = `#!/bin/sh\necho 'usage: podlab-terminal-relay attach SESSION NONCE COLS ROWS TERM | end PATTERN' >&2\nexit 2\n`;
		const replace = `cat > ${TERMINAL_RELAY_BINARY}.old && chmod 755 ${TERMINAL_RELAY_BINARY}.old && mv ${TERMINAL_RELAY_BINARY}.old ${TERMINAL_RELAY_BINARY}`;
		expect((await labs.run(lab!, ['sh', '-c', replace], { input: older })).code).toBe(0);

		const second = await gateway(state);
		const again = await connect(second, state, 'quin');
		const after = await output(again, `echo "lab $(hostname) shell $$"; cat /root/kept.txt; ${TERMINAL_RELAY_BINARY} protocol; kill -0 ${oldShell} 2>/dev/null || echo old-shell-gone`, 'after');
		expect(after).toContain(`lab ${lab} shell`);
		expect(after).not.toContain(`shell ${oldShell}\r`);
		expect(after).toMatch(/^kept\r?$/m);
		expect(after).toMatch(/^2\r?$/m);
		expect(after).toContain('old-shell-gone');
		expect(second.logs()).toContain('built this gateway\u2019s terminal relay in a lab made by an older podlab');
		again.close();
	}, 180_000);

	it('frees the labs of students the roster no longer has and of gateways that are gone, and never another gateway’s', async () => {
		const mine = newStateDir();
		const other = newStateDir();
		const gone = newStateDir();
		const first = await gateway(mine);
		const [eve, fay] = [await student(first, mine, 'eve'), await student(first, mine, 'fay')];
		const second = await gateway(other);
		const gus = await student(second, other, 'gus');
		const third = await gateway(gone);
		const hal = await student(third, gone, 'hal');
		const instancesOf = async (stateDir: string) => (await labs.instances()).filter((instance) => instance.stateDir === stateDir);
		// The gone gateway's kernel-log reader is made in the background at its start.
		await expect.poll(async () => (await instancesOf(gone)).map((instance) => instance.role), { timeout: 30_000 }).toContain('kernel-log');
		const halReaders = await instancesOf(gone);
		const [eveLab, fayLab, gusLab, halLab] = await Promise.all([eve, fay, gus, hal].map(labOf));
		expect([eveLab, fayLab, gusLab, halLab].every(Boolean)).toBe(true);
		await Promise.all([first.stop(), third.stop()]);
		// fay's seat is freed while the gateway is down (a roster restored without her); the third gateway is gone for good.
		const rosterPath = join(mine, 'roster.json');
		const roster = JSON.parse(readFileSync(rosterPath, 'utf8'));
		roster.students = roster.students.filter((student: { id: string }) => student.id !== fay.id);
		writeFileSync(rosterPath, JSON.stringify(roster));
		rmSync(gone, { recursive: true, force: true });

		await gateway(mine);
		await expect.poll(async () => (await labs.get(fayLab!.name)) === null, { timeout: 30_000 }).toBe(true);
		await expect.poll(async () => (await labs.get(halLab!.name)) === null, { timeout: 30_000 }).toBe(true);
		await expect.poll(async () => (await instancesOf(gone)).length, { timeout: 30_000 }).toBe(0);
		expect(halReaders.length).toBeGreaterThan(1);
		expect(await labs.get(eveLab!.name)).not.toBeNull();
		expect(await labs.get(gusLab!.name)).toMatchObject({ gateway: gusLab!.gateway, owner: gus.id });
		// The other gateway's warm lab is still its own: nobody else adopted it.
		const othersWarm = (await labs.list()).filter((lab) => lab.gateway === gusLab!.gateway && lab.owner === null);
		expect(othersWarm.length).toBeGreaterThan(0);
	}, 180_000);

	it('keeps two gateways’ kernel logs apart: an OOM in one’s lab reaches only that lab', async () => {
		const [one, two] = [newStateDir(), newStateDir()];
		const [first, second] = [await gateway(one), await gateway(two)];
		const ivy = await connect(first, one, 'ivy');
		const jon = await connect(second, two, 'jon');
		const oom = await output(ivy, "podman run --rm --memory 100m docker.io/library/busybox:latest tail /dev/zero; echo \"exit $?\"; dmesg | grep -c 'Killed process'", 'oom');
		expect(oom).toContain('exit 137');
		expect(oom).toMatch(/^1\s*$/m);
		expect(await output(jon, 'dmesg | wc -l', 'jon-dmesg')).toMatch(/^\s*0\s*$/m);
	}, 120_000);

	it('says so when Incus does not answer or has no lab image, keeps serving, and recovers by itself', async () => {
		const proxy = new IncusProxy();
		await proxy.up();
		const state = newStateDir();
		const gw = await gateway(state, { PODLAB_INCUS_SOCKET: proxy.path });
		const kim = await student(gw, state, 'kim');
		await proxy.down();
		const refused = await TestClient.connect(gw, { cookie: kim.cookie }).then(
			() => null,
			(error: { code?: string; closeCode?: number }) => error,
		);
		// A lab taken at join still needs Incus for its terminal.
		expect(refused).toMatchObject({ code: 'LAB_ERR_LAB_ENGINE', closeCode: 4008 });
		const health = await fetch(`${gw.url}api/health`);
		expect(health.status).toBe(200);
		const lab = await (await fetch(`${gw.url}api/lab`, { headers: { origin: gw.origin } })).json();
		expect(lab.labsAvailable).toBe(false);
		expect(lab.lab.incus).toMatchObject({ available: false, reachable: false, address: 'this machine' });
		expect(JSON.stringify(lab)).not.toContain(proxy.path);
		expect(gw.logs()).toMatch(/labs cannot be had now/);
		await proxy.up();
		const back = await TestClient.connect(gw, { cookie: kim.cookie, readyTimeoutMs: 30_000 });
		expect(await output(back, 'hostname', 'back')).toMatch(LAB_NAME);
		back.close();
		await proxy.down();

		// A project without the lab image: a class pointed at the wrong place.
		const api = localApi();
		const project = `podlab-empty-${process.pid}`;
		await api.call('POST', '/1.0/projects', { project: null, body: { name: project, config: { 'features.images': 'true', 'features.profiles': 'true' } } });
		try {
			const empty = await gateway(newStateDir(), { PODLAB_INCUS_PROJECT: project, PODLAB_MODE: 'local' });
			const session = await fetch(`${empty.url}api/session`, { headers: { origin: empty.origin } });
			const cookie = session.headers.get('set-cookie')!.split(';')[0]!;
			const noImage = await TestClient.connect(empty, { cookie }).then(
				() => null,
				(error: { code?: string }) => error,
			);
			expect(noImage).toMatchObject({ code: 'LAB_ERR_LAB_IMAGE' });
			expect(empty.logs()).toMatch(/there is no lab image/);
		} finally {
			await api.call('DELETE', `/1.0/projects/${project}`, { project: null }).catch(() => {});
			api.close();
		}
	}, 180_000);

	it('makes its kernel-log reader anew when it was made from an earlier lab image, and a lab’s dmesg works through the new one', async () => {
		const state = newStateDir();
		const first = await gateway(state);
		const readerOf = async () => (await labs.instances()).find((instance) => instance.stateDir === state && instance.role === 'kernel-log') ?? null;
		await expect.poll(async () => (await readerOf())?.running ?? false, { timeout: 60_000 }).toBe(true);
		const reader = (await readerOf())!;
		expect(await first.stop()).toBe(0);
		// As Incus marks an instance made from another image: a `lab:setup` rebuilt the image since.
		await labs.api.call('PATCH', `/1.0/instances/${reader.name}`, { body: { config: { 'volatile.base_image': 'f'.repeat(64) } } });

		const second = await gateway(state);
		const current = await labImageFingerprint(labs.api);
		expect(current).toBeTruthy();
		await expect.poll(async () => { const now = await readerOf(); return now?.running ? now.image : null; }, { timeout: 60_000 }).toBe(current);
		expect(second.logs()).toContain('the reader was made from an earlier lab image');
		const sam = await connect(second, state, 'sam');
		expect(await output(sam, 'dmesg > /dev/null && echo dmesg""-read', 'd')).toMatch(/^dmesg-read\r?$/m);
		sam.close();
	}, 180_000);

	it('runs a kernel-log relay that takes only its own commands: no path outside a lab’s directory, no report the kernel did not count, no line past its bound', async () => {
		const state = newStateDir();
		await gateway(state);
		const readerOf = async () => (await labs.instances()).find((instance) => instance.role === 'kernel-log' && instance.stateDir === state && instance.running)?.name;
		await expect.poll(readerOf, { timeout: 30_000 }).toBeTruthy();
		const reader = (await readerOf())!;
		const hex = (text: string) => Buffer.from(text).toString('hex');
		const commands = [
			'1 mkdir ../../../etc 0',
			'2 mkdir lab-test 1234567',
			`3 report lab-test /lxc.payload.podlab_lab-test ${hex('a forged report\n')}`,
			`4 report ../lab-test /lxc.payload.podlab_lab-test ${hex('escape\n')}`,
			'5 report lab-test /lxc.payload.podlab_lab-test zz',
			'6 remove ..',
			'7 drained 42',
			'8 chmod lab-test 777',
			'9 mkdir lab-other 0',
			`10 report lab-test /lxc.payload.podlab_lab-other/x ${hex('another lab’s\n')}`,
			`11 report lab-test /lxc.payload.podlab_lab-test/../x ${hex('up\n')}`,
			`12 append lab-test ${hex('a line\n')}`,
			// A real cgroup (the reader instance's own), in which the kernel counted no OOM kill.
			`13 mkdir ${reader} 1234567`,
			`14 report ${reader} /lxc.payload.podlab_${reader} ${hex('a forged report\n')}`,
			'not-a-number mkdir x 1',
		].join('\n');
		const gatewayId = 'relay-test';
		const result = await labs.api.run(reader, {
			command: ['sh', '-c', `(printf '%s\\n' "$1"; sleep 1) | podlab-kernel-log-relay ${gatewayId}; echo status=$?; cat /var/log/podlab/${gatewayId}/lab-test/kmsg /var/log/podlab/${gatewayId}/drained-at; stat -c '%a %u' /var/log/podlab/${gatewayId}/lab-test; rm -rf /var/log/podlab/${gatewayId}`, 'relay', commands],
			environment: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
			timeoutMs: 30_000,
		});
		const lines = result.stdout.split('\n').filter((line) => !line.startsWith('R ') && !line.startsWith('D ') && !line.startsWith('B '));
		expect(lines).toEqual(
			expect.arrayContaining([
				'E 1 bad lab name',
				'O 2',
				// No OOM kill the kernel counted in that cgroup (there is none): nothing is written.
				"E 3 cannot read the cgroup's OOM kills",
				'E 4 bad lab name',
				'E 5 bad hex',
				'E 6 bad lab name',
				'O 7',
				'E 8 unknown command chmod',
				'E 9 bad uid',
				'E 10 bad cgroup',
				'E 11 bad cgroup',
				'E 12 unknown command append',
				'O 13',
				'E 14 the kernel counted no OOM kill there since the last report',
				'status=0',
				'42',
				'700 1234567',
			]),
		);
		expect(lines.filter((line) => /^[OE] /.test(line))).toHaveLength(14);
		expect(lines.join('\n')).not.toContain('a forged report');
		expect(result.stdout.split('\n').find((line) => line.startsWith('B '))).toMatch(/^B [0-9a-f-]{36}$/);
		// Past 2 MiB without a newline the relay stops, as it must never grow without bound.
		const long = await labs.api.run(reader, { command: ['sh', '-c', `head -c 3000000 /dev/zero | tr '\\0' a | podlab-kernel-log-relay ${gatewayId}; echo status=$?; rm -rf /var/log/podlab/${gatewayId}`], environment: { PATH: '/usr/local/sbin:/usr/bin:/bin' }, timeoutMs: 30_000 });
		expect(long.stdout).toContain('status=1');
		expect(long.stderr).toContain('a command line is longer than 2097152 bytes');
	}, 120_000);

	it('removes every lab when the seats are freed', async () => {
		const state = newStateDir();
		const gw = await gateway(state);
		const joined = await Promise.all(['lea', 'max'].map((name) => student(gw, state, name)));
		for (const each of joined) expect(await labOf(each)).not.toBeNull();
		for (const each of joined) {
			const freed = await fetch(`${gw.url}api/instructor/students/${each.id}`, {
				method: 'DELETE',
				headers: { authorization: `Bearer ${INSTRUCTOR_TOKEN}`, origin: gw.origin },
			});
			expect(freed.status, await freed.text()).toBeLessThan(300);
		}
		for (const each of joined) expect(await labOf(each)).toBeNull();
	}, 120_000);
});
