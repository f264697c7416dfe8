/**
 * The kernel log of one's own lab. A lab may not read the host's kernel log (it holds the host's and
 * every lab's messages), so the gateway, as root, reads /dev/kmsg and copies the messages about a
 * lab's cgroups into that lab's log file, KERNEL_LOG_DIR/<lab>/kmsg, which the lab sees read-only at
 * /run/podlab/kernel/kmsg and prints with podlab's `dmesg` (lab/lxc/files/dmesg.sh).
 *
 * What is routed: a whole OOM report (from "… invoked oom-killer" to "Killed process …", routed by
 * its `oom_memcg=`/`Memory cgroup stats for` cgroup, the reaper's line after it), and any other line
 * naming a lab's cgroup. Cgroup paths are shown as the lab's cgroup namespace shows them (without
 * the host's `/lxc.payload.<lab>` prefix). A line that names no lab goes nowhere: the host's own
 * messages never reach a lab. A lab gets only messages logged after it was made (a new lab reuses
 * an old one's name).
 */
import { appendFileSync, closeSync, constants, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { KERNEL_LOG_DIR, KERNEL_LOG_DRAINED_FILE } from '../../../lab/lxc/paths.ts';

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

const PAYLOAD = /\/lxc\.payload\.(podlab-lab-\d{2})(?=[/,\s:]|$)/;
const PAYLOAD_ALL = /\/lxc\.payload\.podlab-lab-\d{2}(?=([/,\s:]|$))/g;

/** The lab a cgroup path (or a line holding one) belongs to. */
export function labOfText(text: string): string | null {
	return PAYLOAD.exec(text)?.[1] ?? null;
}

/** The line as the lab sees it: cgroup paths relative to the lab's own cgroup namespace. */
export function asSeenInLab(text: string): string {
	return text.replace(PAYLOAD_ALL, (_match, next: string) => (next === '/' ? '' : '/'));
}

/** A line as `dmesg` prints it: `[  123.456789] text`. */
export function formatRecord(record: KmsgRecord): string {
	const seconds = Math.floor(record.usec / 1e6);
	const micros = String(record.usec % 1e6).padStart(6, '0');
	return `[${String(seconds).padStart(5, ' ')}.${micros}] ${asSeenInLab(record.text)}`;
}

export interface Routed {
	lab: string;
	records: KmsgRecord[];
}

/** Longest OOM report kept while waiting for the line that names its cgroup. */
const MAX_REPORT_RECORDS = 500;

/** Groups records into what goes to which lab. Pure: feed it records in order. */
export class KmsgSorter {
	#report: { records: KmsgRecord[]; lab: string | null } | null = null;
	/** Host pids of processes killed for a lab, for the reaper's line after the report. */
	readonly #killed = new Map<string, string>();

	feed(record: KmsgRecord): Routed[] {
		const { text } = record;
		if (/ invoked oom-killer: /.test(text)) {
			this.#report = { records: [record], lab: null };
			return [];
		}
		if (this.#report) {
			const report = this.#report;
			report.records.push(record);
			report.lab ??= labOfText(text);
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
		const lab = labOfText(text);
		return lab ? [{ lab, records: [record] }] : [];
	}

	#remember(pid: string, lab: string): void {
		this.#killed.set(pid, lab);
		if (this.#killed.size > 64) this.#killed.delete(this.#killed.keys().next().value!);
	}
}

/** A lab's log beyond this is cut to its newer half. */
const MAX_LOG_BYTES = 1024 * 1024;
const POLL_MS = 100;
const LAST_SEQ_FILE = 'last-seq';

/** Microseconds since boot, as /dev/kmsg counts them. */
export function uptimeMicros(): number {
	return Math.round(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1e6);
}

/** Marks lab `name`'s log as starting now (a fresh lab, or a reset one). */
export function startLabLog(name: string): void {
	writeFileSync(join(KERNEL_LOG_DIR, name, 'kmsg'), '', { mode: 0o644 });
	writeFileSync(join(KERNEL_LOG_DIR, name, 'since'), `${uptimeMicros()}\n`);
}

function readLastSeq(): number {
	try {
		const seq = Number(readFileSync(join(KERNEL_LOG_DIR, LAST_SEQ_FILE), 'utf8').trim());
		return Number.isInteger(seq) ? seq : -1;
	} catch {
		return -1;
	}
}

/**
 * Reads /dev/kmsg every 100 ms (non-blocking, polled: a blocking read would hold one of libuv's few threads
 * for good) and appends each lab's messages to its log. Picks up after a gateway restart where the
 * last one stopped (the last routed sequence number is kept in KERNEL_LOG_DIR).
 */
export class KmsgRouter {
	readonly #logger: Logger;
	readonly #sorter = new KmsgSorter();
	readonly #buffer = Buffer.alloc(16 * 1024);
	#fd: number | null = null;
	#timer: NodeJS.Timeout | null = null;
	#lastSeq: number;

	constructor(logger: Logger) {
		this.#logger = logger;
		this.#lastSeq = readLastSeq();
	}

	start(): void {
		try {
			this.#fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
		} catch (error) {
			this.#logger.warn({ err: error }, 'cannot read /dev/kmsg: labs will not see their kernel messages');
			return;
		}
		this.#timer = setInterval(() => this.drain(), POLL_MS);
		this.#timer.unref();
	}

	/** Reads every record waiting in /dev/kmsg and routes it. */
	drain(): void {
		if (this.#fd === null) return;
		const started = Date.now();
		let routedUpTo = this.#lastSeq;
		for (;;) {
			let length: number;
			try {
				length = readSync(this.#fd, this.#buffer, 0, this.#buffer.length, null);
			} catch (error) {
				// EPIPE: records were overwritten before they were read; the next read goes on after them.
				if ((error as NodeJS.ErrnoException).code === 'EPIPE') continue;
				break;
			}
			if (length <= 0) break;
			const record = parseKmsgRecord(this.#buffer.toString('utf8', 0, length));
			if (!record || record.seq <= this.#lastSeq) continue;
			for (const routed of this.#sorter.feed(record)) this.#append(routed);
			routedUpTo = record.seq;
		}
		if (routedUpTo !== this.#lastSeq) {
			this.#lastSeq = routedUpTo;
			writeFileSync(join(KERNEL_LOG_DIR, LAST_SEQ_FILE), `${routedUpTo}\n`);
		}
		// In place (the labs hold this file's inode through their bind mounts, so no rename).
		writeFileSync(KERNEL_LOG_DRAINED_FILE, `${started}\n`);
	}

	#append({ lab, records }: Routed): void {
		const dir = join(KERNEL_LOG_DIR, lab);
		let since: number;
		try {
			since = Number(readFileSync(join(dir, 'since'), 'utf8'));
		} catch {
			return;
		}
		const lines = records.filter((record) => record.usec >= since).map(formatRecord);
		if (lines.length === 0) return;
		const file = join(dir, 'kmsg');
		appendFileSync(file, `${lines.join('\n')}\n`);
		if (statSync(file).size > MAX_LOG_BYTES) {
			const kept = readFileSync(file).subarray(-MAX_LOG_BYTES / 2);
			writeFileSync(`${file}.tmp`, kept.subarray(kept.indexOf(0x0a) + 1), { mode: 0o644 });
			renameSync(`${file}.tmp`, file);
		}
	}

	stop(): void {
		if (this.#timer) clearInterval(this.#timer);
		this.drain();
		if (this.#fd !== null) closeSync(this.#fd);
		this.#fd = null;
	}
}
