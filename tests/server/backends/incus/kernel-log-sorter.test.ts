/** The kernel-log routing without a kernel: raw /dev/kmsg records in, what each lab gets out. */
import { describe, expect, it } from 'vitest';
import { KmsgSorter, LabCgroups, parseKmsgRecord, type KmsgRecord } from '../../../../server/backends/incus/kernel-log-sorter.ts';

const cgroups = new LabCgroups('podlab');

let seq = 100;
const record = (text: string): KmsgRecord => parseKmsgRecord(`4,${seq++},5000123456,-;${text}`)!;

/** The start and end of a memory cgroup OOM report as 6.x kernels print it, for a container in lab `lab`. */
function oomReport(lab: string, pid: number): KmsgRecord[] {
	const cgroup = `/lxc.payload.podlab_${lab}/libpod_parent/libpod-abc123`;
	return [
		'tail invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0',
		`CPU: 1 UID: 0 PID: ${pid} Comm: tail Not tainted 6.18.44 #1`,
		'Call Trace:',
		'memory: usage 102400kB, limit 102400kB, failcnt 62',
		`Memory cgroup stats for ${cgroup}:`,
		`oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=${cgroup},task_memcg=${cgroup},task=tail,pid=${pid},uid=1000000`,
		`Memory cgroup out of memory: Killed process ${pid} (tail) total-vm:104000kB, anon-rss:101000kB`,
	].map(record);
}

describe('parseKmsgRecord', () => {
	it('reads priority, sequence, time and text, and undoes the kernel’s escapes', () => {
		expect(parseKmsgRecord('6,1234,5000123456,-,caller=T1;a\\x0ab\n SUBSYSTEM=x')).toEqual({ priority: 6, facility: 0, seq: 1234, usec: 5000123456, text: 'a\nb' });
		expect(parseKmsgRecord('12,1235,5000123456,-;from a program')).toMatchObject({ priority: 4, facility: 1 });
	});
	it('skips dictionary lines and junk', () => {
		expect(parseKmsgRecord(' SUBSYSTEM=memory')).toBeNull();
		expect(parseKmsgRecord('no semicolon')).toBeNull();
		expect(parseKmsgRecord('x,y,z;text')).toBeNull();
	});
});

describe('KmsgSorter', () => {
	it('routes a whole OOM report to the lab whose cgroup it names, with the killed task’s cgroup for the relay to check', () => {
		const sorter = new KmsgSorter(cgroups);
		const routed = oomReport('lab-0a1b2c03', 4242).flatMap((r) => sorter.feed(r));
		expect(routed.map((entry) => [entry.lab, entry.cgroup])).toEqual([['lab-0a1b2c03', '/lxc.payload.podlab_lab-0a1b2c03/libpod_parent/libpod-abc123']]);
		expect(routed[0]!.records).toHaveLength(7);
		expect(routed[0]!.records[0]!.text).toMatch(/invoked oom-killer/);
		// The reaper's line after it is the host's: not routed.
		expect(sorter.feed(record('oom_reaper: reaped process 4242 (tail), now anon-rss:0kB'))).toEqual([]);
	});
	it('routes no report without the killed task’s cgroup, or whose task is in another lab', () => {
		const sorter = new KmsgSorter(cgroups);
		const without = oomReport('lab-0a1b2c04', 1).filter((r) => !r.text.startsWith('oom-kill:'));
		expect(without.flatMap((r) => sorter.feed(r))).toEqual([]);
	});
	it('gives a lab nothing of the host’s or of another lab’s', () => {
		const sorter = new KmsgSorter(cgroups);
		const routed = [
			record('EXT4-fs (vda): mounted filesystem'),
			...oomReport('lab-0a1b2c07', 99),
			record('oom_reaper: reaped process 1 (init), now anon-rss:0kB'),
			record('tail invoked oom-killer: gfp_mask=0xcc0'),
			record('Out of memory: Killed process 12 (java)'),
		].flatMap((r) => sorter.feed(r));
		expect(routed.map((entry) => entry.lab)).toEqual(['lab-0a1b2c07']);
	});
	it('keeps a host’s line printed during a report out of it, and a line naming a lab outside a report goes nowhere', () => {
		const sorter = new KmsgSorter(cgroups);
		const [start, ...rest] = oomReport('lab-0a1b2c08', 77);
		const routed = [
			record('audit: forged text /lxc.payload.podlab_lab-0a1b2c08/x'),
			start!,
			record('podman0: port 1(veth0) entered disabled state'),
			...rest,
		].flatMap((r) => sorter.feed(r));
		expect(routed).toHaveLength(1);
		expect(routed[0]!.records.map((r) => r.text)).not.toContain('podman0: port 1(veth0) entered disabled state');
		expect(routed[0]!.records).toHaveLength(7);
	});
	it('routes nothing a program wrote into the kernel log, however it looks', () => {
		const sorter = new KmsgSorter(cgroups);
		const written = oomReport('lab-0a1b2c13', 8).map((r) => ({ ...r, facility: 1 }));
		expect(written.flatMap((r) => sorter.feed(r))).toEqual([]);
	});
	it('routes a report that names two labs nowhere, and forgets an open report at the next start', () => {
		const sorter = new KmsgSorter(cgroups);
		const mixed = oomReport('lab-0a1b2c09', 5);
		mixed.splice(4, 0, record('Memory cgroup stats for /lxc.payload.podlab_lab-0a1b2c10:'));
		expect(mixed.flatMap((r) => sorter.feed(r))).toEqual([]);
		const opened = [record('x invoked oom-killer: gfp_mask=0x0'), record('memory: usage 1kB, limit 1kB, failcnt 0'), ...oomReport('lab-0a1b2c11', 6)];
		const routed = opened.flatMap((r) => sorter.feed(r));
		expect(routed.map((entry) => [entry.lab, entry.records.length])).toEqual([['lab-0a1b2c11', 7]]);
	});
	it('keeps the task table of a real report, names with spaces included', () => {
		const sorter = new KmsgSorter(cgroups);
		const report = oomReport('lab-0a1b2c12', 26946);
		report.splice(5, 0, ...['Tasks state (memory values in pages):', '[  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name', '[  26946] 1100327680 26946    26022    25483    25472       11         0   245760        0             0 my tail'].map(record));
		expect(sorter.feed(report[0]!).concat(...report.slice(1).map((r) => sorter.feed(r)))[0]!.records).toHaveLength(10);
	});
	it('takes a lab only from its own project’s cgroups, and the whole name', () => {
		expect(cgroups.labOf('oom_memcg=/lxc.payload.other_lab-0a1b2c07/x')).toBeNull();
		expect(cgroups.labOf('oom_memcg=/lxc.payload.lab-0a1b2c07/x')).toBeNull();
		expect(cgroups.labOf('oom_memcg=/lxc.payload.podlab_lab-0a1b2c07.x/y')).toBeNull();
		expect(cgroups.labOf('Memory cgroup stats for /lxc.payload.podlab_lab-0a1b2c07:')).toBe('lab-0a1b2c07');
		expect(cgroups.labOf('oom_memcg=/lxc.payload.podlab_lab-0a1b2c071/x')).toBe('lab-0a1b2c071');
		expect(new LabCgroups('podlab-2').labOf('x /lxc.payload.podlab_lab-1/y')).toBeNull();
	});
});

describe('what a lab sees', () => {
	it('shows cgroup paths as the lab’s cgroup namespace does', () => {
		expect(cgroups.asSeenInLab('oom_memcg=/lxc.payload.podlab_lab-0a1b2c01/libpod_parent/x,task_memcg=/lxc.payload.podlab_lab-0a1b2c01,task=a')).toBe(
			'oom_memcg=/libpod_parent/x,task_memcg=/,task=a',
		);
	});
	it('formats a record as dmesg does', () => {
		expect(cgroups.format({ priority: 4, facility: 0, seq: 1, usec: 5_000_123_456, text: 'hello' })).toBe('[ 5000.123456] hello');
		expect(cgroups.format({ priority: 4, facility: 0, seq: 1, usec: 1_000_001, text: 'x' })).toBe('[    1.000001] x');
	});
});
