/**
 * Which lab a kernel record is about (pure: records in, what goes to which lab out), for the kernel
 * log of one's own lab (kernel-log.ts).
 *
 * What is routed: a whole OOM report (from "… invoked oom-killer" to "Killed process …", routed by
 * its `oom_memcg=` / `Memory cgroup stats for` cgroup, and the reaper's line after it), and any other
 * line naming a lab's cgroup. Incus names a container's cgroup `lxc.payload.<project>_<name>`.
 * Cgroup paths are shown as the lab's cgroup namespace shows them (without that host prefix). A line
 * that names no lab goes nowhere: the host's own messages never reach a lab.
 */

export interface KmsgRecord {
	priority: number;
	seq: number;
	/** Microseconds since boot. */
	usec: number;
	text: string;
}

/** Parses one /dev/kmsg record (`prio,seq,usec,flags[,…];text`); null for dictionary lines and junk. */
export function parseKmsgRecord(record: string): KmsgRecord | null {
	const line = record.split('\n')[0] ?? '';
	const semicolon = line.indexOf(';');
	if (semicolon < 0 || line.startsWith(' ')) return null;
	const [priority, seq, usec] = line.slice(0, semicolon).split(',').map(Number);
	if (![priority, seq, usec].every((value) => Number.isInteger(value))) return null;
	// The kernel escapes unprintable bytes (newlines included) as \xHH.
	const text = line.slice(semicolon + 1).replace(/\\x([0-9a-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
	return { priority: priority! & 7, seq: seq!, usec: usec!, text };
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Cgroup names of a project's labs, and how to read them in a record. */
export class LabCgroups {
	readonly #one: RegExp;
	readonly #all: RegExp;

	constructor(project: string) {
		const prefix = `/lxc\\.payload\\.${escape(project)}_`;
		this.#one = new RegExp(`${prefix}([a-z0-9][a-z0-9-]{0,62})(?=[/,\\s:]|$)`);
		this.#all = new RegExp(`${prefix}[a-z0-9][a-z0-9-]{0,62}(?=([/,\\s:]|$))`, 'g');
	}

	/** The lab a cgroup path (or a line holding one) belongs to. */
	labOf(text: string): string | null {
		return this.#one.exec(text)?.[1] ?? null;
	}

	/** The line as the lab sees it: cgroup paths relative to the lab's own cgroup namespace. */
	asSeenInLab(text: string): string {
		return text.replace(this.#all, (_match, next: string) => (next === '/' ? '' : '/'));
	}

	/** A record as `dmesg` prints it: `[  123.456789] text`. */
	format(record: KmsgRecord): string {
		const seconds = Math.floor(record.usec / 1e6);
		const micros = String(record.usec % 1e6).padStart(6, '0');
		return `[${String(seconds).padStart(5, ' ')}.${micros}] ${this.asSeenInLab(record.text)}`;
	}
}

export interface Routed {
	lab: string;
	records: KmsgRecord[];
}

/** Longest OOM report kept while waiting for the line that names its cgroup. */
const MAX_REPORT_RECORDS = 500;

/** Groups one host's records into what goes to which lab. Pure: feed it the records in order. */
export class KmsgSorter {
	readonly #cgroups: LabCgroups;
	#report: { records: KmsgRecord[]; lab: string | null } | null = null;
	/** Host pids of processes killed for a lab, for the reaper's line after the report. */
	readonly #killed = new Map<string, string>();

	constructor(cgroups: LabCgroups) {
		this.#cgroups = cgroups;
	}

	feed(record: KmsgRecord): Routed[] {
		const { text } = record;
		if (/ invoked oom-killer: /.test(text)) {
			this.#report = { records: [record], lab: null };
			return [];
		}
		if (this.#report) {
			const report = this.#report;
			report.records.push(record);
			report.lab ??= this.#cgroups.labOf(text);
			const killed = /Killed process (\d+)/.exec(text);
			if (killed || report.records.length > MAX_REPORT_RECORDS) {
				this.#report = null;
				if (!report.lab) return [];
				if (killed) this.#remember(killed[1]!, report.lab);
				return [{ lab: report.lab, records: report.records }];
			}
			return [];
		}
		const reaped = /oom_reaper: reaped process (\d+)/.exec(text);
		if (reaped) {
			const lab = this.#killed.get(reaped[1]!);
			return lab ? [{ lab, records: [record] }] : [];
		}
		const lab = this.#cgroups.labOf(text);
		return lab ? [{ lab, records: [record] }] : [];
	}

	#remember(pid: string, lab: string): void {
		this.#killed.set(pid, lab);
		if (this.#killed.size > 64) this.#killed.delete(this.#killed.keys().next().value!);
	}
}
