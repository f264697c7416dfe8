/**
 * lxcfs (Debian's `lxcfs`): a FUSE file system that gives each container its own view of
 * /proc/meminfo, /proc/uptime, /proc/stat and friends, computed from the container's cgroups, so
 * that `free`, `top` and `uptime` in a lab show the lab's memory limit and its own uptime instead
 * of the host's. LXC mounts it into a container that starts while it runs (the package's hook in
 * /usr/share/lxc/config/common.conf.d/, which every lab includes through common.conf).
 *
 * Optional: without it, labs work and those commands show the host's figures. `nproc` shows the
 * host's CPUs either way, and rightly: a lab's `cpu.shares` weighs it against the others, it does
 * not take CPUs away.
 */
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { run } from '../lib/exec.ts';

/** Where Debian's lxcfs mounts itself and where LXC's hook looks for it. */
export const LXCFS_DIR = '/var/lib/lxcfs';

export type LxcfsState = 'running' | 'not-installed' | 'not-running';

/** Whether lxcfs serves LXCFS_DIR now (a `fuse.lxcfs` mount there). */
export async function lxcfsMounted(): Promise<boolean> {
	const mounts = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
	return mounts.split('\n').some((line) => {
		const [before, after] = line.split(' - ');
		return before?.split(' ')[4] === LXCFS_DIR && after?.startsWith('fuse.lxcfs ');
	});
}

export async function lxcfsState(): Promise<LxcfsState> {
	if (await lxcfsMounted()) return 'running';
	const installed = await stat('/usr/bin/lxcfs').then(() => true, () => false);
	return installed ? 'not-running' : 'not-installed';
}

/**
 * Starts lxcfs when it is installed and not running: through systemd where systemd runs the host
 * (the package's own service, which also starts it at boot), else as a daemon of its own. A host
 * without systemd loses it at reboot; the gateway calls this again when it prepares the labs.
 * Resolves to the state afterwards; never throws.
 */
export async function ensureLxcfs(): Promise<LxcfsState> {
	const before = await lxcfsState();
	if (before !== 'not-running') return before;
	const systemd = await stat('/run/systemd/system').then(() => true, () => false);
	if (systemd) await run('systemctl', ['start', 'lxcfs'], { timeoutMs: 10_000 });
	if (!(await lxcfsMounted())) {
		// In the foreground of a process of its own, outside the caller's process group, so that it
		// outlives lab:setup or the gateway; nothing of theirs is inherited.
		const daemon = spawn('lxcfs', ['--foreground', LXCFS_DIR], { detached: true, stdio: 'ignore' });
		daemon.on('error', () => {});
		daemon.unref();
		for (let waited = 0; waited < 5_000 && !(await lxcfsMounted()); waited += 50) await delay(50);
	}
	return lxcfsState();
}
