/**
 * Real Incus labs (server/backends/incus/labs.ts), made from podlab's image with its profile:
 * isolated from the host and from each other, bounded by their limits (memory, processes, disk —
 * whatever they do inside), and the labs together bounded by their pool. Two labs, A and B; every
 * check runs from a root shell in A, as a reader's would.
 */
import { createServer, type Server } from 'node:net';
import { release } from 'node:os';
import { readFileSync } from 'node:fs';
import { readdir, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUBVOLUME_IOCTLS } from '../../../lab/incus/lab-profile.ts';
import { DEFAULT_LAB_LIMITS } from '../../../lab/incus/lab-profile.ts';
import { lxcfsState } from '../../../lab/incus/lxcfs.ts';
import { ID_RANGE_COUNT } from '../../../lab/incus/daemon.ts';
import { LAB_IMAGE, LAB_PROFILE, LOCAL_SOCKET, PROJECT } from '../../../lab/incus/names.ts';
import { detectIncusLabs } from '../../../lab/incus/status.ts';
import type { Labs } from '../../../server/backends/incus/labs.ts';
import { assertLabUsable, skipReason } from '../lab-required.ts';
import { inBatches } from '../../../bench/lib/in-batches.ts';
import { incusLabProblem, localApi, startedLab, testLabs } from './incus-required.ts';

const problem = await incusLabProblem();
const skip = skipReason(problem);
let labs: Labs;
let labA = '';
let labB = '';
const made: string[] = [];
const HOST_MARKER = `/root/.podlab-incus-test-${process.pid}`;
const SECRET = `podlab-test-secret-${process.pid}`;
let listener: Server;
let port = 0;

/** The host cgroup (v1) of a lab's processes. */
function labCgroup(controller: string, lab: string): string {
	return `/sys/fs/cgroup/${controller}/lxc.payload.${PROJECT}_${lab}`;
}

/** The command name of process `pid`, or '' once it is gone. */
function readComm(pid: string): string {
	try {
		return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
	} catch {
		return '';
	}
}

/** Runs a shell command in `lab` as root there; the result, whatever it is. */
function sh(lab: string, command: string, timeoutMs = 30_000, input?: string) {
	return labs.run(lab, ['bash', '-c', command], { timeoutMs, input });
}

async function lab(): Promise<string> {
	const name = await startedLab(labs);
	made.push(name);
	return name;
}

/** A C program that asks btrfs for a subvolume (or a snapshot of /) with one ioctl, as any writer may. */
const SUBVOLUME_PROGRAM = `
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
struct vol_args { long long fd; char name[4088]; };
struct vol_args_v2 { long long fd; unsigned long long transid, flags; unsigned long long unused[4]; char name[4040]; };
static void try(const char *what, unsigned long command, void *args, int dir) {
	long result = syscall(SYS_ioctl, dir, command, args);
	printf("%s: %s\\n", what, result == 0 ? "made" : strerror(errno));
}
int main(void) {
	int dir = open("/root", O_RDONLY | O_DIRECTORY), root = open("/", O_RDONLY | O_DIRECTORY);
	struct vol_args args = { 0 }; struct vol_args_v2 v2 = { 0 };
	strcpy(args.name, "sub"); try("subvolume", ${SUBVOLUME_IOCTLS.BTRFS_IOC_SUBVOL_CREATE}UL, &args, dir);
	strcpy(args.name, "sub-high"); try("subvolume (high bits set)", 0xffffffff00000000UL | ${SUBVOLUME_IOCTLS.BTRFS_IOC_SUBVOL_CREATE}UL, &args, dir);
	strcpy(v2.name, "sub-v2"); try("subvolume v2", ${SUBVOLUME_IOCTLS.BTRFS_IOC_SUBVOL_CREATE_V2}UL, &v2, dir);
	args.fd = root; strcpy(args.name, "snap"); try("snapshot", ${SUBVOLUME_IOCTLS.BTRFS_IOC_SNAP_CREATE}UL, &args, dir);
	v2.fd = root; strcpy(v2.name, "snap-v2"); try("snapshot v2", ${SUBVOLUME_IOCTLS.BTRFS_IOC_SNAP_CREATE_V2}UL, &v2, dir);
	return 0;
}
`;

describe.skipIf(skip !== null)(`Incus labs${skip ? ` (skipped: ${skip})` : ''}`, () => {
	beforeAll(async () => {
		assertLabUsable(problem);
		labs = await testLabs();
		process.env.PODLAB_TEST_SECRET = SECRET;
		await writeFile(HOST_MARKER, 'host only\n');
		listener = createServer((socket) => socket.end('host\n'));
		await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
		port = (listener.address() as { port: number }).port;
		[labA, labB] = [await lab(), await lab()];
	}, 120_000);

	afterAll(async () => {
		delete process.env.PODLAB_TEST_SECRET;
		await rm(HOST_MARKER, { force: true });
		listener?.close();
		for (const name of made) await labs.destroy(name);
		labs?.api.close();
	}, 120_000);

	// Incus starts a command once it has the exec's four websockets, which can be before this side saw
	// the last one open: output taken only from then on lost a command's first bytes about once in 70
	// (6 of 400 here), and with them a terminal relay's answer to its attach.
	it('loses no command’s first output, 400 short commands 16 at a time', async () => {
		const lost: string[] = [];
		await inBatches(400, 16, async () => {
			const result = await labs.api.run(labA, { command: ['printf', 'first'], timeoutMs: 20_000 });
			if (result.stdout !== 'first') lost.push(JSON.stringify(result));
		});
		expect(lost, 'commands whose output did not arrive whole').toEqual([]);
	}, 120_000);

	it('is named after the lab and maps its root to an unprivileged host range of its own', async () => {
		const [a, b] = await Promise.all([sh(labA, 'hostname; cat /proc/self/uid_map'), sh(labB, 'cat /proc/self/uid_map')]);
		const [hostname, map] = a.stdout.trim().split('\n');
		expect(hostname).toBe(labA);
		const [inside, outside, count] = map!.trim().split(/\s+/).map(Number);
		expect(inside).toBe(0);
		// Within the range lab:setup gave Incus, far from the host's own ids.
		expect(outside).toBeGreaterThanOrEqual(100_000_000);
		expect(count).toBe(65_536);
		const outsideB = Number(b.stdout.trim().split(/\s+/)[1]);
		expect(Math.abs(outsideB - outside!)).toBeGreaterThanOrEqual(65_536);
		expect(Math.abs(outsideB - outside!)).toBeLessThan(ID_RANGE_COUNT);
	});

	it('cannot reach the host’s files, processes or environment', async () => {
		const files = await sh(labA, `ls /var/lib/podlab; ls ${HOST_MARKER}; ls /var/lib/incus; ls /var/log/podlab`);
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
		expect(Number(await readFile(`${labCgroup('pids', labA)}/pids.max`, 'utf8'))).toBe(DEFAULT_LAB_LIMITS.pids);
		expect(Number(await readFile(`${labCgroup('cpu', labA)}/cpu.shares`, 'utf8'))).toBe(DEFAULT_LAB_LIMITS.cpuShares);
	});

	it('shows its own memory limit and uptime (lxcfs), not the host’s', async () => {
		expect(await lxcfsState()).toBe('running');
		const inside = await sh(labA, "awk '$1 == \"MemTotal:\" {print $2 * 1024}' /proc/meminfo; cut -d. -f1 /proc/uptime");
		const [memTotal, uptime] = inside.stdout.trim().split('\n').map(Number);
		expect(memTotal).toBe(DEFAULT_LAB_LIMITS.memoryBytes);
		expect(uptime).toBeLessThan(Number((await readFile('/proc/uptime', 'utf8')).split('.')[0]));
	});

	it('runs the article’s pod with its 100 MiB limit inside', async () => {
		const pod = await sh(labA, 'podman run --rm --memory 100m docker.io/library/busybox:latest cat /sys/fs/cgroup/memory/memory.limit_in_bytes', 60_000);
		expect(pod.stderr).toBe('');
		expect(pod.stdout.trim()).toBe('104857600');
	});

	it('a fork bomb and a memory hog in A leave B answering', async () => {
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
		// An exec through Incus (its API, a fork, the namespaces' entry) is part of each probe.
		expect(Math.min(...slowest)).toBeLessThan(250);
		expect(await readFile(`${labCgroup('pids', labA)}/pids.events`, 'utf8')).toMatch(/max [1-9]/);
	}, 120_000);

	it('`rm -rf --no-preserve-root /` in a lab removes only that lab’s files: B, the image and the host keep theirs', async () => {
		const doomed = await lab();
		await sh(labB, 'echo kept > /root/b-file');
		const wiped = await sh(doomed, 'rm -rf --no-preserve-root / 2>/dev/null; ls /usr/bin | wc -l', 120_000);
		expect(wiped.stdout.trim()).toMatch(/^0?$/);
		const b = await sh(labB, 'cat /root/b-file; podman --version >/dev/null && echo podman-ok');
		expect(b.stdout.trim().split('\n')).toEqual(['kept', 'podman-ok']);
		expect(await readFile(HOST_MARKER, 'utf8')).toBe('host only\n');
		// The image every new lab is made from is untouched: a lab made now has its whole root.
		const fresh = await lab();
		const check = await sh(fresh, 'test -x /usr/bin/podman && test -f /etc/os-release && echo whole');
		expect(check.stdout.trim()).toBe('whole');
	}, 240_000);

	it('cannot make a btrfs subvolume or snapshot, whose writes its disk limit would not count', async () => {
		// A lab of its own: A may still be at its process limit after the fork bomb.
		const built = await sh(await lab(), 'cat > /root/subvolume.c && gcc -o /root/subvolume /root/subvolume.c && /root/subvolume; ls -1 /root', 60_000, SUBVOLUME_PROGRAM);
		expect(built.stdout).toContain('subvolume: Operation not permitted');
		expect(built.stdout).toContain('subvolume (high bits set): Operation not permitted');
		expect(built.stdout).toContain('subvolume v2: Operation not permitted');
		expect(built.stdout).toContain('snapshot: Operation not permitted');
		expect(built.stdout).toContain('snapshot v2: Operation not permitted');
		const files = built.stdout.split('\n');
		for (const name of ['sub', 'sub-high', 'sub-v2', 'snap', 'snap-v2']) expect(files).not.toContain(name);
	}, 120_000);

	it('cannot write more than its disk limit, sparse files, hard links and reflinks included, and is removed when full', async () => {
		const limit = 1024 ** 3;
		const small = await testLabs({ ...DEFAULT_LAB_LIMITS, diskBytes: limit });
		const name = await startedLab(small);
		try {
			const written = await small.run(
				name,
				[
					'bash',
					'-c',
					[
						'head -c 200000000 /dev/urandom > /root/some && sync',
						// A sparse file takes no space until written; hard links and reflinks share the blocks they name.
						'truncate -s 50G /root/sparse && ln /root/some /root/link && cp --reflink=always /root/some /root/reflink && echo shared-ok',
						'dd if=/dev/zero of=/root/sparse bs=1M seek=40000 count=2000 conv=notrunc 2>&1 | tail -1; echo dd=$?',
						'head -c 2000000000 /dev/zero > /root/too-much; echo rc=$?',
					].join('; '),
				],
				{ timeoutMs: 120_000 },
			);
			expect(written.stdout).toContain('shared-ok');
			expect(written.stdout + written.stderr).toMatch(/Disk quota exceeded/);
			expect(written.stdout).toContain('rc=1');
			const usage = await small.usage(name);
			expect(usage.diskBytes).toBeGreaterThan(150_000_000);
			expect(usage.diskBytes).toBeLessThanOrEqual(limit);
		} finally {
			// A full lab goes like any other.
			await small.destroy(name);
		}
		expect(await small.get(name)).toBeNull();
		small.api.close();
	}, 180_000);

	it('keeps its pool on simple quotas where the kernel has them, so that removing a lab costs little', async () => {
		const [major, minor] = release().split('.').map(Number) as [number, number];
		const status = await detectIncusLabs({ socketPath: LOCAL_SOCKET });
		expect(status.quotas).toBe(major > 6 || (major === 6 && minor >= 7) ? 'simple' : 'full');
	});

	it('the labs of a pool together cannot write more than the pool, whatever their own limits', async () => {
		const api = localApi();
		const pool = `podlab-test-${process.pid}`;
		const server = api.inProject('default');
		const freeBefore = (await statfs('/var/lib')).bavail * (await statfs('/var/lib')).bsize;
		await server.call('POST', '/1.0/storage-pools', { project: null, body: { name: pool, driver: 'btrfs', config: { size: '2GiB' } }, timeoutMs: 120_000 });
		const names: string[] = [];
		try {
			for (const index of [1, 2]) {
				const name = `pool-test-${process.pid}-${index}`;
				await api.call('POST', '/1.0/instances', {
					body: { name, source: { type: 'image', alias: LAB_IMAGE }, profiles: [LAB_PROFILE], config: { 'user.podlab.role': 'test' }, devices: { root: { type: 'disk', path: '/', pool, size: '3GiB' } } },
					timeoutMs: 300_000,
				});
				names.push(name);
				await api.call('PUT', `/1.0/instances/${name}/state`, { body: { action: 'start', timeout: 30 }, timeoutMs: 60_000 });
			}
			// Each may write 3 GiB by its own limit; the pool holds 2 GiB, the image's 0.5 GB included.
			const writes = await Promise.all(names.map((name) => api.run(name, { command: ['bash', '-c', 'head -c 1500000000 /dev/zero > /root/fill; echo rc=$?; sync'], timeoutMs: 180_000 })));
			expect(writes.map((result) => result.stdout + result.stderr).join('\n')).toMatch(/No space left on device|Disk quota exceeded/);
			const freeAfter = (await statfs('/var/lib')).bavail * (await statfs('/var/lib')).bsize;
			expect(freeBefore - freeAfter).toBeLessThan(2.2 * 1024 ** 3);
		} finally {
			for (const name of names) {
				await api.call('PUT', `/1.0/instances/${name}/state`, { body: { action: 'stop', force: true }, timeoutMs: 60_000 }).catch(() => {});
				await api.call('DELETE', `/1.0/instances/${name}`, { timeoutMs: 120_000 }).catch(() => {});
			}
			await api.call('DELETE', `/1.0/storage-pools/${pool}`, { project: null, timeoutMs: 120_000 }).catch(() => {});
			api.close();
		}
	}, 600_000);

	it('starts lxcfs again for the next lab when its daemon died and left its mount behind', async () => {
		const daemons = (await readdir('/proc')).filter((pid) => /^\d+$/.test(pid) && readComm(pid) === 'lxcfs');
		expect(daemons.length).toBeGreaterThan(0);
		for (const pid of daemons) process.kill(Number(pid), 'SIGKILL');
		await expect.poll(lxcfsState).toBe('not-running');
		const { ensureLxcfs } = await import('../../../lab/incus/lxcfs.ts');
		expect(await ensureLxcfs()).toBe('running');
		const name = await lab();
		const inside = await sh(name, "awk '$1 == \"MemTotal:\" {print $2 * 1024}' /proc/meminfo");
		expect(Number(inside.stdout.trim())).toBe(DEFAULT_LAB_LIMITS.memoryBytes);
	}, 60_000);

	it('is removed without a trace: no instance, no cgroup', async () => {
		const name = await startedLab(labs);
		await sh(name, 'podman pod create --name podlab-leak-check >/dev/null; echo x > /root/file');
		await labs.destroy(name);
		expect(await labs.get(name)).toBeNull();
		expect(await stat(labCgroup('memory', name)).then(() => true, () => false)).toBe(false);
		expect((await labs.list()).map((info) => info.name)).not.toContain(name);
	}, 60_000);
});
