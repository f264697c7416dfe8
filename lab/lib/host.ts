/**
 * Facts about the lab host read from /proc and /etc: the cgroup layout, process limits, the OS.
 * The parsers take text so they are tested without a host.
 */
import { readFile } from 'node:fs/promises';

/**
 * How cgroups are mounted: `v1` (controllers under /sys/fs/cgroup/<controller>), `v2` (one unified
 * tree at /sys/fs/cgroup), `hybrid` (v1 controllers plus an empty v2 tree at
 * /sys/fs/cgroup/unified — the layout crun refuses), or `none`.
 */
export type CgroupLayout = 'v1' | 'v2' | 'hybrid' | 'none';

/** Reads the cgroup layout from a /proc/mounts text. */
export function parseCgroupLayout(mounts: string): CgroupLayout {
	const entries = mounts
		.split('\n')
		.map((line) => line.split(' '))
		.filter((fields) => fields.length >= 3)
		.map(([, mountPoint, fsType]) => ({ mountPoint: mountPoint ?? '', fsType: fsType ?? '' }));
	if (entries.some((entry) => entry.mountPoint === '/sys/fs/cgroup' && entry.fsType === 'cgroup2')) return 'v2';
	const hasV1 = entries.some((entry) => entry.mountPoint.startsWith('/sys/fs/cgroup/') && entry.fsType === 'cgroup');
	if (!hasV1) return 'none';
	const hasUnified = entries.some((entry) => entry.mountPoint === '/sys/fs/cgroup/unified' && entry.fsType === 'cgroup2');
	return hasUnified ? 'hybrid' : 'v1';
}

export async function detectCgroupLayout(): Promise<CgroupLayout> {
	try {
		return parseCgroupLayout(await readFile('/proc/mounts', 'utf8'));
	} catch {
		return 'none';
	}
}

export interface ResourceLimit {
	soft: number;
	/** Infinity for "unlimited". */
	hard: number;
}

export interface ProcessLimits {
	nofile: ResourceLimit;
	nproc: ResourceLimit;
}

/** Reads "Max open files" and "Max processes" from a /proc/<pid>/limits text. */
export function parseProcessLimits(text: string): ProcessLimits {
	const read = (name: string): ResourceLimit => {
		const line = text.split('\n').find((candidate) => candidate.startsWith(name));
		const match = line?.slice(name.length).trim().match(/^(\S+)\s+(\S+)/);
		if (!match) throw new Error(`no "${name}" line in the limits file`);
		const value = (field: string) => (field === 'unlimited' ? Number.POSITIVE_INFINITY : Number(field));
		return { soft: value(match[1] ?? ''), hard: value(match[2] ?? '') };
	};
	return { nofile: read('Max open files'), nproc: read('Max processes') };
}

export async function readProcessLimits(pid: number | 'self'): Promise<ProcessLimits> {
	return parseProcessLimits(await readFile(`/proc/${pid}/limits`, 'utf8'));
}

/** Fields of /etc/os-release (ID, VERSION_ID, VERSION_CODENAME, PRETTY_NAME…); empty if unreadable. */
export async function readOsRelease(path = '/etc/os-release'): Promise<Record<string, string>> {
	try {
		return parseOsRelease(await readFile(path, 'utf8'));
	} catch {
		return {};
	}
}

export function parseOsRelease(text: string): Record<string, string> {
	const fields: Record<string, string> = {};
	for (const line of text.split('\n')) {
		const match = line.match(/^([A-Z0-9_]+)=(.*)$/);
		if (match?.[1]) fields[match[1]] = (match[2] ?? '').replace(/^(["'])(.*)\1$/, '$2');
	}
	return fields;
}
