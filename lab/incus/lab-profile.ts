/**
 * The Incus profiles of podlab's labs (pure renderers, so the settings are tested without Incus):
 * `lab`, which every reader's lab gets, and `kernel-log`, the reader of a host's kernel log.
 */
import { z } from 'zod';
import { KERNEL_LOG_DIR, LAB_KERNEL_LOG_MOUNT, STORAGE_POOL } from './names.ts';

/**
 * Resource ceilings of one lab. The defaults let 30 labs, each running the sidecar chapter's pods,
 * live on a 2-core / 24 GB host next to the gateway, and far more idle ones: memory is a ceiling,
 * not a reservation (an idle lab uses ~10 MiB of it).
 */
export const labLimitsSchema = z.object({
	/** memory.limit_in_bytes of the lab's cgroup (and memsw: labs never swap). @default 640 MiB */
	memoryBytes: z.number().int().min(64 * 1024 * 1024).default(640 * 1024 * 1024),
	/** pids.max: a fork bomb stops here. @default 1024 */
	pids: z.number().int().min(64).default(1024),
	/** cpu.shares: the lab's weight when the CPUs are contended (the host's processes have 1024). @default 256 */
	cpuShares: z.number().int().min(11).max(1024).default(256),
	/** RLIMIT_NOFILE of the lab's processes (at or below the host's hard limit). @default 20000 */
	openFiles: z.number().int().min(1024).default(20_000),
	/** The lab's whole root file system, the image's ~0.55 GB included (a btrfs quota). @default 3 GiB */
	diskBytes: z.number().int().min(1024 * 1024 * 1024).default(3 * 1024 * 1024 * 1024),
});
export type LabLimits = z.infer<typeof labLimitsSchema>;

export const DEFAULT_LAB_LIMITS: LabLimits = labLimitsSchema.parse({});

/** The lab's init: catatonit reaps, podlab-lab-init (in the image) prepares what systemd would. */
export const LAB_INIT = '/usr/local/sbin/podlab-lab-init';

/**
 * btrfs ioctls that make a subvolume or a snapshot. Any writer may call them, and a new subvolume
 * has a quota group of its own, outside the lab's: what a lab wrote there would not count against
 * its disk limit (measured: 3.6 GiB written against a 2 GiB limit). A lab has no use for them (its
 * podman stores images with overlay), so they fail with EPERM. The command word is compared in its
 * low 32 bits, as the kernel reads it: setting the high bits does not get past the filter.
 */
export const SUBVOLUME_IOCTLS = {
	BTRFS_IOC_SNAP_CREATE: 0x50009401,
	BTRFS_IOC_SUBVOL_CREATE: 0x5000940e,
	BTRFS_IOC_SNAP_CREATE_V2: 0x50009417,
	BTRFS_IOC_SUBVOL_CREATE_V2: 0x50009418,
} as const;

/** `security.syscalls.deny`: LXC seccomp rules (`[argument,value,op,mask]`), appended to Incus's default list. */
export function subvolumeDenyRules(): string {
	return Object.values(SUBVOLUME_IOCTLS)
		.map((command) => `ioctl errno 1 [1,${command},SCMP_CMP_MASKED_EQ,4294967295]\n`)
		.join('');
}

export interface IncusProfile {
	description: string;
	config: Record<string, string>;
	devices: Record<string, Record<string, string>>;
}

/**
 * Every reader's lab: an unprivileged system container with an id range of its own, no network
 * device, nesting for rootful podman, its limits on its host cgroup (which it cannot write), a root
 * bounded by a quota and unable to make subvolumes, and its kernel log read-only.
 */
export function renderLabProfile(limits: LabLimits): IncusProfile {
	return {
		description: 'podlab: a reader\u2019s lab (npm run lab:setup writes it; PODLAB_LAB_* settings change it)',
		config: {
			'security.nesting': 'true',
			'security.idmap.isolated': 'true',
			'security.syscalls.deny': subvolumeDenyRules(),
			'limits.memory': String(limits.memoryBytes),
			'limits.memory.swap': 'false',
			'limits.processes': String(limits.pids),
			// cgroup v1: an allowance without a period is a share of 1024, e.g. 25% = cpu.shares 256.
			'limits.cpu.allowance': `${Math.round((limits.cpuShares * 100) / 1024)}%`,
			'limits.kernel.nofile': String(limits.openFiles),
			'raw.lxc': [
				`lxc.init.cmd = /usr/bin/catatonit -- ${LAB_INIT}`,
				'lxc.signal.halt = SIGTERM',
				// cgroup v1: a writable subtree of the lab's own cgroups, where podman makes its pods' cgroups.
				'lxc.mount.auto = cgroup:rw:force',
				// podman's locks need /dev/shm, and without systemd nothing mounts it, /run or /tmp.
				'lxc.mount.entry = tmpfs dev/shm tmpfs rw,nosuid,nodev,mode=1777,create=dir 0 0',
				'lxc.mount.entry = tmpfs run tmpfs rw,nosuid,nodev,mode=755 0 0',
				'lxc.mount.entry = tmpfs tmp tmpfs rw,nosuid,nodev,mode=1777 0 0',
				'',
			].join('\n'),
		},
		devices: {
			root: { type: 'disk', path: '/', pool: STORAGE_POOL, size: String(limits.diskBytes) },
			// Not under /run: the tmpfs above is mounted after Incus's devices and would cover it.
			'kernel-log': { type: 'disk', source: KERNEL_LOG_DIR, path: LAB_KERNEL_LOG_MOUNT, readonly: 'true' },
		},
	};
}

/**
 * The reader of one host's kernel log (one per Incus host, per gateway): privileged, because only
 * the host's root may read /dev/kmsg, with the host's kernel-log tree writable. It runs nothing a
 * reader can reach; the gateway alone execs in it (server/backends/incus/kernel-log.ts).
 */
export function renderKernelLogProfile(): IncusProfile {
	return {
		description: 'podlab: reads this host\u2019s kernel log for the labs (npm run lab:setup writes it)',
		config: {
			'security.privileged': 'true',
			'limits.memory': String(128 * 1024 * 1024),
			'limits.processes': '64',
			'raw.lxc': [`lxc.init.cmd = /usr/bin/catatonit -- ${LAB_INIT}`, 'lxc.signal.halt = SIGTERM', 'lxc.mount.entry = tmpfs run tmpfs rw,nosuid,nodev,mode=755 0 0', ''].join('\n'),
		},
		devices: {
			root: { type: 'disk', path: '/', pool: STORAGE_POOL },
			kmsg: { type: 'unix-char', source: '/dev/kmsg', path: '/dev/podlab-kmsg', mode: '0400' },
			'kernel-log': { type: 'disk', source: KERNEL_LOG_DIR, path: LAB_KERNEL_LOG_MOUNT },
			// The kernel's own count of OOM kills per cgroup, which a report must match to be routed
			// (lab/incus/files/kernel-log-relay.c): the memory hierarchy of a cgroup v1 host, or the
			// unified one of a v2 host, read-only; whichever the member lacks is left out.
			'host-cgroup-v1': { type: 'disk', source: '/sys/fs/cgroup/memory', path: `${HOST_CGROUP_MOUNT}/v1-memory`, readonly: 'true', required: 'false' },
			'host-cgroup-v2': { type: 'disk', source: '/sys/fs/cgroup', path: `${HOST_CGROUP_MOUNT}/v2`, readonly: 'true', required: 'false' },
		},
	};
}

/** Where the kernel-log reader sees the host's cgroups (the relay reads OOM kill counts there). */
export const HOST_CGROUP_MOUNT = '/podlab-host-cgroup';
