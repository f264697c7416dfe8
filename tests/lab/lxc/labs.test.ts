/**
 * Real LXC labs (server/backends/lxc/labs.ts): made from the base, booted, isolated from the host
 * and from each other, bounded by their limits, and removed without a trace. Two labs, A and B;
 * every check runs from a root shell in A, as a reader's would.
 */
import { createServer, type Server } from 'node:net';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDS_PER_LAB, ID_RANGE_START } from '../../../lab/lxc/id-ranges.ts';
import { DEFAULT_LAB_LIMITS, labDir } from '../../../lab/lxc/lab-config.ts';
import { lxcfsState } from '../../../lab/lxc/lxcfs.ts';
import { KERNEL_LOG_DIR } from '../../../lab/lxc/paths.ts';
import { isSubvolume, syncPool } from '../../../lab/lxc/pool.ts';
import { labCgroup, labName, Labs } from '../../../server/backends/lxc/labs.ts';
import { assertLabUsable, skipReason } from '../lab-required.ts';
import { lxcLabProblem } from './lxc-required.ts';

const problem = await lxcLabProblem();
const skip = skipReason(problem);
const labs = new Labs(DEFAULT_LAB_LIMITS);
let labA = '';
let labB = '';
const HOST_MARKER = `/root/.podlab-lxc-test-${process.pid}`;
const SECRET = `podlab-test-secret-${process.pid}`;
let listener: Server;
let port = 0;

/** The command name of process `pid`, or '' once it is gone. */
function readComm(pid: string): string {
	try {
		return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
	} catch {
		return '';
	}
}

/** Runs a shell command in `lab` as root there; the result, whatever it is. */
function sh(lab: string, command: string, timeoutMs = 30_000) {
	return labs.exec(lab, ['bash', '-c', command], { timeoutMs });
}

describe.skipIf(skip !== null)(`LXC labs${skip ? ` (skipped: ${skip})` : ''}`, () => {
	beforeAll(async () => {
		assertLabUsable(problem);
		process.env.PODLAB_TEST_SECRET = SECRET;
		await writeFile(HOST_MARKER, 'host only\n');
		listener = createServer((socket) => socket.end('host\n'));
		await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
		port = (listener.address() as { port: number }).port;
		await labs.prepare();
		const slotA = await labs.freeSlot();
		labA = await labs.create(slotA);
		labB = await labs.create(await labs.freeSlot(new Set([slotA])));
	}, 120_000);

	afterAll(async () => {
		delete process.env.PODLAB_TEST_SECRET;
		await rm(HOST_MARKER, { force: true });
		listener?.close();
		for (const lab of [labA, labB]) if (lab) await labs.destroy(lab);
	}, 60_000);

	it('is named after the lab and maps its root to an unprivileged host range of its own', async () => {
		const [a, b] = await Promise.all([sh(labA, 'hostname; cat /proc/self/uid_map'), sh(labB, 'cat /proc/self/uid_map')]);
		const [hostname, map] = a.stdout.trim().split('\n');
		expect(hostname).toBe(labA);
		const [inside, outside, count] = map!.trim().split(/\s+/).map(Number);
		expect(inside).toBe(0);
		expect(outside).toBeGreaterThanOrEqual(ID_RANGE_START);
		expect(count).toBe(IDS_PER_LAB);
		const outsideB = Number(b.stdout.trim().split(/\s+/)[1]);
		expect(Math.abs(outsideB - outside!)).toBeGreaterThanOrEqual(IDS_PER_LAB);
	});

	it('cannot reach the host’s files, processes or environment', async () => {
		const files = await sh(labA, `ls /var/lib/podlab; ls ${HOST_MARKER}; ls /var/lib/podlab/lxc`);
		expect(files.code).not.toBe(0);
		expect(files.stdout).toBe('');
		// The gateway's pid (this test process) is not a process the lab can see, signal or read.
		const pid = process.pid;
		const probes = await sh(labA, `cat /proc/${pid}/environ 2>/dev/null | tr '\\0' '\\n' | grep -c PODLAB_TEST_SECRET; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c ${SECRET}; kill -9 ${pid}; echo kill=$?`);
		expect(probes.stdout).toMatch(/kill=1/);
		expect(probes.stdout).not.toContain(SECRET);
		expect(probes.stdout.split('\n').slice(0, 2)).toEqual(['0', '0']);
		const processes = await sh(labA, 'ps -e --no-headers | wc -l');
		expect(Number(processes.stdout.trim())).toBeLessThan(20);
	});

	it('cannot connect to the host’s loopback or see any network device but its own', async () => {
		const tcp = await sh(labA, `timeout 3 bash -c 'echo > /dev/tcp/127.0.0.1/${port}' 2>&1; echo rc=$?; ip -br link`);
		expect(tcp.stdout).toMatch(/Connection refused/);
		expect(tcp.stdout).toMatch(/rc=1/);
		expect(tcp.stdout).toMatch(/^lo\s/m);
		expect(tcp.stdout).not.toMatch(/^(eth|ens|veth)/m);
	});

	it('cannot see or signal lab B, its files or its pods', async () => {
		await sh(labB, 'echo b-only > /root/b-secret; podman pod create --name podlab-b-pod >/dev/null');
		const initB = await labs.initPid(labB);
		const seen = await sh(labA, `cat /root/b-secret; podman pod ls --format '{{.Name}}'; kill -9 ${initB}; echo kill=$?`);
		expect(seen.stdout).not.toContain('b-only');
		expect(seen.stdout).not.toContain('podlab-b-pod');
		expect(seen.stdout).toMatch(/kill=1/);
		expect(await labs.initPid(labB)).toBe(initB);
	});

	it('cannot raise its own limits', async () => {
		const limit = `${labCgroup('memory', labA)}/memory.limit_in_bytes`;
		const before = await readFile(limit, 'utf8');
		const raise = await sh(labA, 'echo 99999999999 > /sys/fs/cgroup/memory/memory.limit_in_bytes; echo rc=$?; echo 99999 > /sys/fs/cgroup/pids/pids.max; echo rc=$?; ulimit -Hn 99999; echo rc=$?');
		expect(raise.stdout.match(/rc=(\d+)/g)).toEqual(['rc=1', 'rc=1', 'rc=1']);
		expect(await readFile(limit, 'utf8')).toBe(before);
		expect(Number(before)).toBe(DEFAULT_LAB_LIMITS.memoryBytes);
	});

	it('shows its own memory limit and uptime (lxcfs), not the host’s', async () => {
		// lab:setup starts lxcfs and labs.prepare() starts it again after a reboot; only a host
		// without the package goes without (then `free` shows the host's memory).
		expect(await lxcfsState()).toBe('running');
		const inside = await sh(labA, "awk '$1 == \"MemTotal:\" {print $2 * 1024}' /proc/meminfo; cut -d. -f1 /proc/uptime");
		const [memTotal, uptime] = inside.stdout.trim().split('\n').map(Number);
		expect(memTotal).toBe(DEFAULT_LAB_LIMITS.memoryBytes);
		expect(uptime).toBeLessThan(Number((await readFile('/proc/uptime', 'utf8')).split('.')[0]));
	});

	it('runs the article’s pod with its 100 MiB limit inside', async () => {
		const pod = await sh(
			labA,
			`podman run --rm --memory 100m docker.io/library/busybox:latest cat /sys/fs/cgroup/memory/memory.limit_in_bytes`,
			60_000,
		);
		expect(pod.stderr).toBe('');
		expect(pod.stdout.trim()).toBe('104857600');
	});

	it('a fork bomb and a memory hog in A leave B answering within 100 ms', async () => {
		// Both run in the background of A and hit A's limits (pids.max, memory.limit_in_bytes).
		const misbehaving = sh(labA, 'timeout 8 bash -c \':(){ :|:& };:\' 2>/dev/null; timeout 8 bash -c \'x=(); while :; do x+=("$(head -c 1048576 /dev/zero | tr "\\0" x)"); done\' 2>/dev/null; true', 30_000);
		await new Promise((resolve) => setTimeout(resolve, 1500));
		const slowest: number[] = [];
		for (let probe = 0; probe < 5; probe++) {
			const started = performance.now();
			const echo = await sh(labB, 'echo alive');
			slowest.push(performance.now() - started);
			expect(echo.stdout.trim()).toBe('alive');
		}
		await misbehaving;
		// lxc-attach itself (a fork, namespace entry and exec) is part of each probe.
		expect(Math.min(...slowest)).toBeLessThan(100);
		const pidsFailcnt = await readFile(`${labCgroup('pids', labA)}/pids.events`, 'utf8');
		expect(pidsFailcnt).toMatch(/max [1-9]/);
		// The bomb's orphans keep A's attach open until its 30 s timeout: room for that under load.
	}, 120_000);

	it('`rm -rf --no-preserve-root /` in a lab removes only that lab’s files: B, the base and the host keep theirs', async () => {
		const doomed = await labs.create(await labs.freeSlot());
		try {
			await sh(labB, 'echo kept > /root/b-file');
			const wiped = await sh(doomed, 'rm -rf --no-preserve-root / 2>/dev/null; ls /usr/bin | wc -l', 120_000);
			// Its own root is gone (only the mounts it cannot remove, such as /proc, keep anything).
			expect(wiped.stdout.trim()).toMatch(/^0?$/);
			const b = await sh(labB, 'cat /root/b-file; podman --version >/dev/null && echo podman-ok');
			expect(b.stdout.trim().split('\n')).toEqual(['kept', 'podman-ok']);
			expect(await readFile(HOST_MARKER, 'utf8')).toBe('host only\n');
			// The base every new lab is made from is untouched: a lab made now has its whole root.
			const fresh = await labs.create(await labs.freeSlot());
			try {
				const check = await sh(fresh, 'test -x /usr/bin/podman && test -f /etc/os-release && echo whole');
				expect(check.stdout.trim()).toBe('whole');
			} finally {
				await labs.destroy(fresh);
			}
		} finally {
			await labs.destroy(doomed);
		}
	}, 240_000);

	it('cannot write more than its disk limit beyond the base, which counts what it wrote', async () => {
		const small = new Labs({ ...DEFAULT_LAB_LIMITS, diskBytes: 256 * 1024 * 1024 });
		const lab = await small.create(await small.freeSlot(new Set()));
		try {
			const written = await sh(lab, 'head -c 64000000 /dev/urandom > /root/some; sync; head -c 400000000 /dev/zero > /root/too-much; echo rc=$?', 60_000);
			expect(written.stdout).toContain('rc=1');
			expect(written.stderr).toMatch(/Disk quota exceeded/);
			await syncPool();
			const { diskExclusiveBytes } = await small.usage(lab);
			expect(diskExclusiveBytes).toBeGreaterThan(60_000_000);
			expect(diskExclusiveBytes).toBeLessThanOrEqual(256 * 1024 * 1024);
		} finally {
			await small.destroy(lab);
		}
	}, 120_000);

	it('starts in its own cgroup even where an earlier lab of that name left its cgroups behind', async () => {
		const slot = await labs.freeSlot();
		const name = labName(slot);
		// What a lab that was never stopped cleanly leaves: LXC would start the next one in "<name>-1".
		for (const controller of ['memory', 'pids']) await mkdir(join(labCgroup(controller, name), 'leftover-child'), { recursive: true });
		const lab = await labs.create(slot);
		try {
			const pid = await labs.initPid(lab);
			const cgroups = await readFile(`/proc/${pid}/cgroup`, 'utf8');
			expect(cgroups).toMatch(new RegExp(`:memory:/lxc\\.payload\\.${lab}$`, 'm'));
		} finally {
			await labs.destroy(lab);
		}
	}, 60_000);

	it('starts lxcfs again for the next lab when its daemon died and left its mount behind', async () => {
		const daemons = (await readdir('/proc')).filter((pid) => /^\d+$/.test(pid) && readComm(pid) === 'lxcfs');
		expect(daemons.length).toBeGreaterThan(0);
		for (const pid of daemons) process.kill(Number(pid), 'SIGKILL');
		await expect.poll(lxcfsState).toBe('not-running');
		const lab = await labs.create(await labs.freeSlot());
		try {
			expect(await lxcfsState()).toBe('running');
			const inside = await sh(lab, "awk '$1 == \"MemTotal:\" {print $2 * 1024}' /proc/meminfo");
			expect(Number(inside.stdout.trim())).toBe(DEFAULT_LAB_LIMITS.memoryBytes);
		} finally {
			await labs.destroy(lab);
		}
	}, 60_000);

	it('is removed without a trace', async () => {
		const slot = await labs.freeSlot(new Set());
		const lab = await labs.create(slot);
		await sh(lab, 'podman pod create --name podlab-leak-check >/dev/null; echo x > /root/file');
		await labs.destroy(lab);
		expect(await isSubvolume(join(labDir(lab), 'rootfs'))).toBe(false);
		expect(await stat(labDir(lab)).then(() => true, () => false)).toBe(false);
		expect(await stat(join(KERNEL_LOG_DIR, lab)).then(() => true, () => false)).toBe(false);
		expect(await stat(labCgroup('memory', lab)).then(() => true, () => false)).toBe(false);
		expect((await labs.list()).map((info) => info.name)).not.toContain(lab);
	}, 60_000);
});
