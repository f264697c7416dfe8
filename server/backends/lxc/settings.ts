/**
 * Settings of the `lxc` backend (spread into the gateway's config schema with the other backends'
 * settings): the warm pool, how long an idle reader's lab lives in local mode, and each lab's limits
 * (defaults in lab/lxc/lab-config.ts, sized for 30 labs on a 2-core / 24 GB host).
 */
import { z } from 'zod';
import { DEFAULT_LAB_LIMITS, type LabLimits } from '../../../lab/lxc/lab-config.ts';

const count = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const lxcSettings = {
	/** Ready labs kept ahead of need, so that a reader's first terminal does not wait. @default 2 */
	lxcWarmLabs: count(0, 32).default(2),
	/** Local mode: a reader's lab is removed after this long without a terminal (ms). @default 86400000 (a day) */
	lxcIdleMs: count(60_000, 30 * 24 * 3_600_000).default(24 * 3_600_000),
	/** Memory of one lab, bytes. @default 671088640 (640 MiB) */
	lxcMemoryBytes: count(64 * 1024 * 1024, 2 ** 40).default(DEFAULT_LAB_LIMITS.memoryBytes),
	/** Swap one lab may use on top of its memory, bytes. @default 0 */
	lxcSwapBytes: count(0, 2 ** 40).default(DEFAULT_LAB_LIMITS.swapBytes),
	/** Processes of one lab. @default 1024 */
	lxcPidsLimit: count(64, 1_000_000).default(DEFAULT_LAB_LIMITS.pids),
	/** CPU weight of one lab (cpu.shares; the host's own processes have 1024). @default 256 */
	lxcCpuShares: count(2, 262_144).default(DEFAULT_LAB_LIMITS.cpuShares),
	/** Open files per process in a lab. @default 20000 */
	lxcOpenFiles: count(1024, 1_048_576).default(DEFAULT_LAB_LIMITS.openFiles),
	/** What one lab may write on top of the base, bytes. @default 2147483648 (2 GiB) */
	lxcDiskBytes: count(256 * 1024 * 1024, 2 ** 44).default(DEFAULT_LAB_LIMITS.diskBytes),
};

export const LXC_ENV_NAMES = {
	lxcWarmLabs: 'PODLAB_LXC_WARM_LABS',
	lxcIdleMs: 'PODLAB_LXC_IDLE_MS',
	lxcMemoryBytes: 'PODLAB_LXC_MEMORY_BYTES',
	lxcSwapBytes: 'PODLAB_LXC_SWAP_BYTES',
	lxcPidsLimit: 'PODLAB_LXC_PIDS_LIMIT',
	lxcCpuShares: 'PODLAB_LXC_CPU_SHARES',
	lxcOpenFiles: 'PODLAB_LXC_OPEN_FILES',
	lxcDiskBytes: 'PODLAB_LXC_DISK_BYTES',
} as const satisfies Record<keyof typeof lxcSettings, string>;

export type LxcSettings = z.infer<z.ZodObject<typeof lxcSettings>>;

/** The per-lab limits the settings give. */
export function labLimitsOf(settings: LxcSettings): LabLimits {
	return {
		memoryBytes: settings.lxcMemoryBytes,
		swapBytes: settings.lxcSwapBytes,
		pids: settings.lxcPidsLimit,
		cpuShares: settings.lxcCpuShares,
		openFiles: settings.lxcOpenFiles,
		diskBytes: settings.lxcDiskBytes,
	};
}
