/**
 * lxcfs (Debian's `lxcfs`): a FUSE file system that gives each container its own view of
 * /proc/meminfo, /proc/uptime, /proc/stat and friends, computed from the container's cgroups, so
 * that `free`, `top` and `uptime` in a lab show the lab's memory limit and its own uptime instead
 * of the host's. LXC mounts it into a container that starts while it runs (the package's hook in
 * /usr/share/lxc/config/common.conf.d/, which Incus includes in every container's configuration).
 *
 * Optional: without it, labs work and those commands show the host's figures. `nproc` shows the
 * host's CPUs either way, and rightly: a lab's `cpu.shares` weighs it against the others, it does
 * not take CPUs away.
 *
 * A mount can outlive its daemon (killed, crashed): it stays in the mount table and every read of
 * it fails with ENOTCONN, and LXC's hook then mounts nothing. So "running" means "answers", and
 * starting it again first removes such a mount. Labs that were running when it died keep their
 * binds of the dead mount (free, ps and uptime fail there) until they are reset: a bind cannot be
 * replaced from outside the lab without the kernel's newer mount calls, which no tool here has.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { run } from '../lib/exec.ts';

/** Where Debian's lxcfs mounts itself and where LXC's hook looks for it. */
export const LXCFS_DIR = '/var/lib/lxcfs';

export type LxcfsState = 'running' | 'not-installed' | 'not-running';

/** Whether a `fuse.lxcfs` file system is mounted at LXCFS_DIR, whether or not its daemon still serves it. */
async function lxcfsMounted(): Promise<boolean> {
	const mounts = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
	return mounts.split('\n').some((line) => {
		const [before, after] = line.split(' - ');
		return before?.split(' ')[4] === LXCFS_DIR && after?.startsWith('fuse.lxcfs ');
	});
}

/**
 * Where the host's root mount does not propagate (hosts without systemd, where podlab starts Incus in
 * a mount namespace of its own), an lxcfs started after the Incus daemon would never reach it. So
 * LXCFS_DIR is made a shared mount point of its own (a bind onto itself) before lxcfs mounts there:
 * lxcfs's mount, and its replacement after a crash, then reach every mount namespace copied after.
 * An lxcfs mounted directly at LXCFS_DIR is unmounted first (it is started again right after).
 */
async function ensureSharedMountPoint(): Promise<void> {
	const mounts = (await readFile('/proc/self/mountinfo', 'utf8').catch(() => '')).split('\n').map((line) => {
		const [before = '', after = ''] = line.split(' - ');
		const fields = before.split(' ');
		return { point: fields[4], shared: fields.slice(6).some((field) => field.startsWith('shared:')), fs: after.split(' ')[0] };
	});
	if (mounts.find((mount) => mount.point === '/')?.shared) return;
	if (mounts.some((mount) => mount.point === LXCFS_DIR && mount.fs !== 'fuse.lxcfs' && mount.shared)) return;
	for (let tries = 0; tries < 5 && (await lxcfsMounted()); tries++) await run('umount', ['--lazy', LXCFS_DIR], { timeoutMs: 10_000 });
	await mkdir(LXCFS_DIR, { recursive: true });
	await run('mount', ['--bind', LXCFS_DIR, LXCFS_DIR], { timeoutMs: 10_000 });
	await run('mount', ['--make-shared', LXCFS_DIR], { timeoutMs: 10_000 });
}

/** Whether lxcfs serves LXCFS_DIR now: mounted, and its daemon answers. */
export async function lxcfsServing(): Promise<boolean> {
	return (await lxcfsMounted()) && (await stat(`${LXCFS_DIR}/proc/meminfo`).then(() => true, () => false));
}

export async function lxcfsState(): Promise<LxcfsState> {
	if (await lxcfsServing()) return 'running';
	const installed = await stat('/usr/bin/lxcfs').then(() => true, () => false);
	return installed ? 'not-running' : 'not-installed';
}

/**
 * Starts lxcfs when it is installed and not serving: through systemd where systemd runs the host
 * (the package's own service, which also starts it at boot), else as a daemon of its own. A host
 * without systemd loses it at reboot; the gateway calls this again before it starts a lab.
 * Resolves to the state afterwards; never throws.
 */
export async function ensureLxcfs(): Promise<LxcfsState> {
	if (!(await stat('/usr/bin/lxcfs').then(() => true, () => false))) return 'not-installed';
	await ensureSharedMountPoint();
	const before = await lxcfsState();
	if (before !== 'not-running') return before;
	// The mount of a daemon that died: lxcfs will not mount over it.
	if (await lxcfsMounted()) await run('umount', ['--lazy', LXCFS_DIR], { timeoutMs: 10_000 });
	const systemd = await stat('/run/systemd/system').then(() => true, () => false);
	if (systemd) await run('systemctl', ['restart', 'lxcfs'], { timeoutMs: 10_000 });
	if (!(await lxcfsServing())) {
		// In the foreground of a process of its own, outside the caller's process group, so that it
		// outlives lab:setup or the gateway; nothing of theirs is inherited.
		const daemon = spawn('lxcfs', ['--foreground', LXCFS_DIR], { detached: true, stdio: 'ignore' });
		daemon.on('error', () => {});
		daemon.unref();
		// As the package's service does: the kernel's OOM killer must not pick it, because the labs
		// that started under it keep its dead mounts until they are reset (free, ps and uptime fail).
		if (daemon.pid !== undefined) await writeFile(`/proc/${daemon.pid}/oom_score_adj`, '-1000').catch(() => {});
		for (let waited = 0; waited < 5_000 && !(await lxcfsServing()); waited += 50) await delay(50);
	}
	return lxcfsState();
}
