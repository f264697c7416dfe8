/**
 * Which lab a kernel record is about (pure: records in, what goes to which lab out), for the kernel
 * log of one's own lab (kernel-log.ts).
 *
 * What is routed: a whole memory cgroup OOM report, from "… invoked oom-killer" to "Killed process
 * …"; nothing else. A report goes to the lab whose cgroup it names (`Memory cgroup stats for`,
 * `oom_memcg=`, `task_memcg=`); a report that names no lab, or two, goes nowhere. Only lines shaped
 * like a report's own (the header, the stack, the registers, the memory figures and statistics, the
 * task table, the verdict) are kept in it: a host's or another lab's line printed while a report is
 * open is left out. Incus names a container's cgroup `lxc.payload.<project>_<name>`; cgroup paths
 * are shown as the lab's cgroup namespace shows them (without that host prefix). The host's own
 * messages never reach a lab, nor does a line a program wrote into the kernel log (/dev/kmsg gives
 * those the facility "user", never "kernel").
 *
 * All of this is text, and a lab's root can make the kernel print text of their choosing; so a
 * report is written into the lab's log only if the kernel's own count of OOM kills in its
 * `task_memcg` cgroup went up since the last report taken for it — the relay checks that
 * (lab/incus/files/kernel-log-relay.c), and this gives it the cgroup.
 */

export interface KmsgRecord {
	priority: number;
	/** 0: the kernel's own; what a program writes to /dev/kmsg is never 0 (the kernel makes it 1, user). */
	facility: number;
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
	return { priority: priority! & 7, facility: priority! >> 3, seq: seq!, usec: usec!, text };
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Cgroup names of a project's labs, and how to read them in a record. */
export class LabCgroups {
	readonly #one: RegExp;
	readonly #all: RegExp;
	readonly #each: RegExp;

	constructor(project: string) {
		const prefix = `/lxc\\.payload\\.${escape(project)}_`;
		this.#one = new RegExp(`${prefix}([a-z0-9][a-z0-9-]{0,62})(?=[/,\\s:]|$)`);
		this.#all = new RegExp(`${prefix}[a-z0-9][a-z0-9-]{0,62}(?=([/,\\s:]|$))`, 'g');
		this.#each = new RegExp(`${prefix}([a-z0-9][a-z0-9-]{0,62})(?=[/,\\s:]|$)`, 'g');
	}

	/** The lab a cgroup path (or a line holding one) belongs to. */
	labOf(text: string): string | null {
		return this.#one.exec(text)?.[1] ?? null;
	}

	/** Every lab the cgroup paths in a line belong to. */
	labsOf(text: string): string[] {
		return [...text.matchAll(this.#each)].map((match) => match[1]!);
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
	/** The cgroup of the killed task, as the host names it (`task_memcg=`): the relay checks its OOM kill count. */
	cgroup: string;
	records: KmsgRecord[];
}

/** Longest OOM report kept while waiting for its verdict (a report of a cgroup with many tasks is a few hundred lines). */
const MAX_REPORT_RECORDS = 2000;

/** The lines an OOM report is made of, as 5.x and 6.x kernels print them. */
const REPORT_LINES = [
	/^CPU: \d+ (UID: \d+ )?PID: \d+ Comm: /,
	/^Hardware name: /,
	/^Call Trace:$/,
	/^ <\/?(TASK|IRQ)>$/,
	/^ (\? )?[\w.]+\+0x[0-9a-f]+\/0x[0-9a-f]+( \[[\w]+\])?$/,
	/^(RIP|Code|R[A-Z0-9]{2}): /,
	/^(memory|memory\+swap|kmem|swap): usage \d+kB, limit \d+kB, failcnt \d+$/,
	/^Memory cgroup stats for \S+:$/,
	/^[a-z_]+ \d+$/,
	/^Tasks state \(memory values in pages\):$/,
	/^\[  pid  \]/,
	/^\[\s*\d+\](\s+-?\d+){8,10}\s+\S.*$/,
	/^oom-kill:constraint=/,
	/^Memory cgroup out of memory: Killed process \d+ /,
];

const isReportLine = (text: string) => REPORT_LINES.some((line) => line.test(text));

/** Groups one host's records into what goes to which lab. Pure: feed it the records in order. */
export class KmsgSorter {
	readonly #cgroups: LabCgroups;
	#report: { records: KmsgRecord[]; labs: Set<string>; cgroup: string | null } | null = null;

	constructor(cgroups: LabCgroups) {
		this.#cgroups = cgroups;
	}

	feed(record: KmsgRecord): Routed[] {
		// Only the kernel's own records: a program's line written to /dev/kmsg is nobody's report.
		if (record.facility !== 0) return [];
		const { text } = record;
		if (/^\S+ invoked oom-killer: gfp_mask=/.test(text)) {
			// The kernel prints one report at a time (under its OOM lock): a new start drops an open one.
			this.#report = { records: [record], labs: new Set(), cgroup: null };
			return [];
		}
		const report = this.#report;
		if (!report || !isReportLine(text)) return [];
		report.records.push(record);
		for (const lab of this.#cgroups.labsOf(text)) report.labs.add(lab);
		if (text.startsWith('oom-kill:constraint=')) report.cgroup = /,task_memcg=([^,]+),/.exec(text)?.[1] ?? null;
		const killed = /^Memory cgroup out of memory: Killed process \d+ /.test(text);
		if (!killed && report.records.length <= MAX_REPORT_RECORDS) return [];
		this.#report = null;
		const [lab] = report.labs;
		if (!killed || report.labs.size !== 1 || !report.cgroup || this.#cgroups.labOf(report.cgroup) !== lab) return [];
		return [{ lab: lab!, cgroup: report.cgroup, records: report.records }];
	}
}
