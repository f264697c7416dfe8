/** Process facts from /proc: memory, open file descriptors, CPU time and children of a server. */
import { readdirSync, readFileSync } from 'node:fs';

/** Linux's USER_HZ, the unit of the times in /proc/PID/stat; 100 on every mainstream platform. */
const CLOCK_TICKS = 100;

/** Resident memory of one process, in bytes. */
export function rssBytes(pid: number): number {
	const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
	return Number(match?.[1] ?? 0) * 1024;
}

/**
 * Proportional memory of a process (shared pages divided among their users), in bytes: summed over
 * many shells it counts shared libraries once, where RSS would count them in every shell.
 */
export function pssBytes(pid: number): number {
	try {
		const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
		return Number(match?.[1] ?? 0) * 1024;
	} catch {
		return 0;
	}
}

/** The command name of a process (at most 15 bytes, as the kernel keeps it), or null once it is gone. */
export function commandName(pid: number): string | null {
	try {
		return readFileSync(`/proc/${pid}/comm`, 'utf8').trimEnd();
	} catch {
		return null;
	}
}

export function openFds(pid: number): number {
	return readdirSync(`/proc/${pid}/fd`).length;
}

/**
 * User + system CPU time of one process, in seconds; with `waitedChildren`, also that of the children
 * it has waited for (a shell's `date` and `sleep`).
 */
export function cpuSeconds(pid: number, { waitedChildren = false } = {}): number {
	const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
	// Fields 14–17 of stat(5) (utime, stime, cutime, cstime), counted from after the command name.
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').slice(11, waitedChildren ? 15 : 13);
	return fields.reduce((total, ticks) => total + Number(ticks), 0) / CLOCK_TICKS;
}

/** Every live descendant of `pid` (children, their children, …). */
export function descendants(pid: number): number[] {
	const children = new Map<number, number[]>();
	for (const name of readdirSync('/proc')) {
		if (!/^\d+$/.test(name)) continue;
		let stat: string;
		try {
			stat = readFileSync(`/proc/${name}/stat`, 'latin1');
		} catch {
			continue;
		}
		const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		if (fields[0] === 'Z') continue;
		const parent = Number(fields[1]);
		const siblings = children.get(parent) ?? [];
		siblings.push(Number(name));
		children.set(parent, siblings);
	}
	const found: number[] = [];
	const queue = [pid];
	while (queue.length > 0) {
		for (const child of children.get(queue.shift()!) ?? []) {
			found.push(child);
			queue.push(child);
		}
	}
	return found;
}
