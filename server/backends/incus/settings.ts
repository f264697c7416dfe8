/**
 * Settings of the `incus` backend (spread into the gateway's config schema with the other backends'
 * settings): which Incus (this machine's, or a remote server or cluster), the warm pool, when an
 * idle lab is stopped and when a stopped one is removed, and each lab's limits (defaults in
 * lab/incus/lab-profile.ts, sized for 30 busy labs on a 2-core / 24 GB host).
 */
import { z } from 'zod';
import { endpointProblems, INCUS_ENDPOINT_ENV, type IncusEndpointSettings } from '../../../lab/incus/endpoint.ts';
import { DEFAULT_LAB_LIMITS, type LabLimits } from '../../../lab/incus/lab-profile.ts';
import { PROJECT } from '../../../lab/incus/names.ts';

const count = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const MINUTE = 60_000;

export const incusSettings = {
	/** The unix socket of the Incus daemon on this machine (when incusUrl is unset). @default "/var/lib/incus/unix.socket" */
	incusSocket: z.string().min(1).optional(),
	/** `https://host:8443` of a remote Incus server or cluster member; unset: the Incus daemon on this machine. */
	incusUrl: z.string().min(1).optional(),
	/** With incusUrl: podlab's client certificate (PEM file), trusted by Incus. */
	incusClientCert: z.string().min(1).optional(),
	/** With incusUrl: the key of that certificate (PEM file). */
	incusClientKey: z.string().min(1).optional(),
	/** With incusUrl: the server's (the cluster's) certificate (PEM file): the only one accepted. */
	incusServerCert: z.string().min(1).optional(),
	/** The Incus project of this gateway's labs. @default "podlab" */
	incusProject: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/).default(PROJECT),
	/** Ready labs kept ahead of need, so that a reader's first terminal does not wait. @default 2 */
	labWarmLabs: count(0, 32).default(2),
	/** A lab whose reader has had no terminal this long is stopped (its files kept); the next terminal starts it again. @default 300000 (5 minutes) */
	labIdleStopMs: count(10_000, 7 * 24 * 60 * MINUTE).default(5 * MINUTE),
	/** Local mode: a stopped lab whose reader has not come back this long is removed (class mode: with the seat). @default 86400000 (a day) */
	labRetainMs: count(MINUTE, 365 * 24 * 60 * MINUTE).default(24 * 60 * MINUTE),
	/** Memory of one lab, bytes. @default 671088640 (640 MiB) */
	labMemoryBytes: count(64 * 1024 * 1024, 2 ** 40).default(DEFAULT_LAB_LIMITS.memoryBytes),
	/** Processes of one lab. @default 1024 */
	labPidsLimit: count(64, 1_000_000).default(DEFAULT_LAB_LIMITS.pids),
	/** CPU weight of one lab (cpu.shares, 11 to 1024; the host's own processes have 1024). @default 256 */
	labCpuShares: count(11, 1024).default(DEFAULT_LAB_LIMITS.cpuShares),
	/** Open files per process in a lab. @default 20000 */
	labOpenFiles: count(1024, 1_048_576).default(DEFAULT_LAB_LIMITS.openFiles),
	/** One lab's whole root file system, the image's ~0.55 GB included, bytes. @default 3221225472 (3 GiB) */
	labDiskBytes: count(1024 * 1024 * 1024, 2 ** 44).default(DEFAULT_LAB_LIMITS.diskBytes),
};

export const INCUS_ENV_NAMES = {
	...INCUS_ENDPOINT_ENV,
	incusProject: 'PODLAB_INCUS_PROJECT',
	labWarmLabs: 'PODLAB_LAB_WARM_LABS',
	labIdleStopMs: 'PODLAB_LAB_IDLE_STOP_MS',
	labRetainMs: 'PODLAB_LAB_RETAIN_MS',
	labMemoryBytes: 'PODLAB_LAB_MEMORY_BYTES',
	labPidsLimit: 'PODLAB_LAB_PIDS_LIMIT',
	labCpuShares: 'PODLAB_LAB_CPU_SHARES',
	labOpenFiles: 'PODLAB_LAB_OPEN_FILES',
	labDiskBytes: 'PODLAB_LAB_DISK_BYTES',
} as const satisfies Record<keyof typeof incusSettings, string>;

export const INCUS_HINTS: Partial<Record<keyof typeof incusSettings, string>> = {
	incusProject: 'a lower-case name such as podlab',
	labCpuShares: 'a weight from 11 to 1024 (256: a quarter of a host process\u2019s)',
};

export type IncusSettings = z.infer<z.ZodObject<typeof incusSettings>>;

/** Settings that belong together: one line per problem. */
export function incusProblems(settings: IncusEndpointSettings): string[] {
	return endpointProblems(settings);
}

/** The per-lab limits the settings give. */
export function labLimitsOf(settings: IncusSettings): LabLimits {
	return {
		memoryBytes: settings.labMemoryBytes,
		pids: settings.labPidsLimit,
		cpuShares: settings.labCpuShares,
		openFiles: settings.labOpenFiles,
		diskBytes: settings.labDiskBytes,
	};
}

/** Variables of the backend this one replaced, and their names now: a gateway given the old ones says so. */
export const RENAMED_ENV: Record<string, string> = {
	PODLAB_LXC_WARM_LABS: INCUS_ENV_NAMES.labWarmLabs,
	PODLAB_LXC_IDLE_MS: `${INCUS_ENV_NAMES.labIdleStopMs} (stop) and ${INCUS_ENV_NAMES.labRetainMs} (remove)`,
	PODLAB_LXC_MEMORY_BYTES: INCUS_ENV_NAMES.labMemoryBytes,
	PODLAB_LXC_SWAP_BYTES: 'nothing (labs never swap)',
	PODLAB_LXC_PIDS_LIMIT: INCUS_ENV_NAMES.labPidsLimit,
	PODLAB_LXC_CPU_SHARES: INCUS_ENV_NAMES.labCpuShares,
	PODLAB_LXC_OPEN_FILES: INCUS_ENV_NAMES.labOpenFiles,
	PODLAB_LXC_DISK_BYTES: `${INCUS_ENV_NAMES.labDiskBytes} (now the whole root, the image's ~0.55 GB included)`,
};
