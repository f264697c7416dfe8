/**
 * The LXC configuration of podlab's labs: one common file every lab includes (written by
 * lab:setup) and a short per-lab file (written when a lab is made) with its name, its root, its
 * own id range and its limits. Pure renderers, so the settings are tested without LXC.
 */
import { z } from 'zod';
import { IDS_PER_LAB, slotIdStart } from './id-ranges.ts';
import { KERNEL_LOG_DIR, KERNEL_LOG_DRAINED_FILE, LAB_COMMON_CONF, LABS_DIR } from './paths.ts';

/**
 * Resource ceilings of one lab. The defaults let 30 labs, each running the sidecar chapter's
 * pods, live on a 2-core / 24 GB host next to the gateway: memory is a ceiling, not a reservation
 * (an idle lab uses ~10 MiB of it), so 30 × 640 MiB stays below the host's memory.
 */
export const labLimitsSchema = z.object({
	/** memory.limit_in_bytes of the lab's cgroup. @default 640 MiB */
	memoryBytes: z.number().int().min(64 * 1024 * 1024).default(640 * 1024 * 1024),
	/** Swap the lab may use on top of memoryBytes (memory.memsw.limit_in_bytes − memoryBytes). @default 0 */
	swapBytes: z.number().int().min(0).default(0),
	/** pids.max: a fork bomb stops here. @default 1024 */
	pids: z.number().int().min(64).default(1024),
	/** cpu.shares: the lab's weight when the CPUs are contended (the host's processes have 1024). @default 256 */
	cpuShares: z.number().int().min(2).max(262_144).default(256),
	/** RLIMIT_NOFILE of the lab's processes (at or below the host's hard limit). @default 20000 */
	openFiles: z.number().int().min(1024).default(20_000),
	/** What a lab may write on top of the base (btrfs quota group). @default 2 GiB */
	diskBytes: z.number().int().min(256 * 1024 * 1024).default(2 * 1024 * 1024 * 1024),
});
export type LabLimits = z.infer<typeof labLimitsSchema>;

export const DEFAULT_LAB_LIMITS: LabLimits = labLimitsSchema.parse({});

/** The lab's init: catatonit reaps, podlab-lab-init (in the base) prepares what systemd would. */
export const LAB_INIT = '/usr/local/sbin/podlab-lab-init';

/** Where the lab reads its kernel log (the host writes it; see server/backends/lxc/kmsg-router.ts). */
export const LAB_KERNEL_LOG_MOUNT = 'run/podlab/kernel';

/** The settings every lab shares; `lxcfs` adds its mount hook (free, nproc, uptime of the lab). */
export function renderCommonConfig(): string {
	return `# podlab's LXC settings shared by every lab; written by \`npm run lab:setup\` (lab/lxc/lab-config.ts).
lxc.include = /usr/share/lxc/config/common.conf
lxc.include = /usr/share/lxc/config/userns.conf
lxc.arch = linux64
# Nested podman mounts proc and sysfs for its containers: give it uncovered ones to mount from.
lxc.mount.entry = proc dev/.lxc/proc proc create=dir,optional 0 0
lxc.mount.entry = sys dev/.lxc/sys sysfs create=dir,optional 0 0
# AppArmor is not enabled on the hosts podlab targets; the user namespace is the boundary.
lxc.apparmor.profile = unconfined
# No network device: the lab has its own loopback and what podman creates inside it, nothing else.
lxc.net.0.type = empty
# cgroup v1: a writable subtree of the lab's own cgroups, where podman makes its pods' cgroups.
lxc.mount.auto = proc:mixed sys:mixed cgroup:rw:force
lxc.init.cmd = /usr/bin/catatonit -- ${LAB_INIT}
lxc.signal.halt = SIGTERM
# podman's locks need /dev/shm, and without systemd nothing mounts it, /run or /tmp.
lxc.mount.entry = tmpfs dev/shm tmpfs rw,nosuid,nodev,mode=1777,create=dir 0 0
lxc.mount.entry = tmpfs run tmpfs rw,nosuid,nodev,mode=755 0 0
lxc.mount.entry = tmpfs tmp tmpfs rw,nosuid,nodev,mode=1777 0 0
lxc.mount.entry = /dev/fuse dev/fuse none bind,create=file,optional 0 0
lxc.mount.entry = /dev/net/tun dev/net/tun none bind,create=file,optional 0 0
lxc.cgroup.devices.allow = c 10:200 rwm
`;
}

export interface LabConfigInput {
	name: string;
	slot: number;
	limits: LabLimits;
	/** The lab's root. @default labDir(name)/rootfs */
	rootfs?: string;
	/** Bind-mount the lab's kernel log (every reader's lab; not the base builder). @default true */
	kernelLog?: boolean;
}

/** The directory of lab `name` (LXC's lxcpath/name). */
export function labDir(name: string): string {
	return `${LABS_DIR}/${name}`;
}

/** The per-lab file: its own uid/gid range, its root seen through an idmapped mount, its limits. */
export function renderLabConfig({ name, slot, limits, rootfs = `${labDir(name)}/rootfs`, kernelLog = true }: LabConfigInput): string {
	const idStart = slotIdStart(slot);
	const kernelLogEntry = kernelLog
		? `lxc.mount.entry = ${KERNEL_LOG_DIR}/${name} ${LAB_KERNEL_LOG_MOUNT} none bind,ro,create=dir 0 0\n` +
			`lxc.mount.entry = ${KERNEL_LOG_DRAINED_FILE} run/podlab/drained-at none bind,ro,create=file 0 0\n`
		: '';
	return `# podlab lab ${name} (slot ${slot}); written by the gateway (server/backends/lxc/labs.ts).
lxc.include = ${LAB_COMMON_CONF}
lxc.uts.name = ${name}
lxc.rootfs.path = dir:${rootfs}
# The root is a snapshot of the base, owned by host uid 0 on disk; the idmapped mount shows it to
# the lab as its own, so no file needs chowning to the lab's range.
lxc.rootfs.options = idmap=container
lxc.idmap = u 0 ${idStart} ${IDS_PER_LAB}
lxc.idmap = g 0 ${idStart} ${IDS_PER_LAB}
${kernelLogEntry}lxc.cgroup.memory.limit_in_bytes = ${limits.memoryBytes}
lxc.cgroup.memory.memsw.limit_in_bytes = ${limits.memoryBytes + limits.swapBytes}
lxc.cgroup.pids.max = ${limits.pids}
lxc.cgroup.cpu.shares = ${limits.cpuShares}
lxc.prlimit.nofile = ${limits.openFiles}
`;
}
