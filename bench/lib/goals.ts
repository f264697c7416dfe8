/**
 * The benchmarks' goals, checked against the figures of this run. A goal whose figures are missing
 * (a benchmark skipped or failed, or `--only`) is "not measured", with the reason — never "met".
 */
import type { BenchResult } from './report.ts';

/** Echo p99 above which the lab no longer feels local (issue 7): the capacity ramp's knee. */
export const KNEE_MS = 50;
/** The `case` of echo-capacity's knee line, which the knee goal looks for. */
export const KNEE_CASE = `active terminals at which echo p99 passes ${KNEE_MS} ms`;

interface Goal {
	text: string;
	unit: string;
	check(results: readonly BenchResult[]): { value: number; limit: number; met: boolean; measured: string; n: number } | { why: string };
}

const find = (results: readonly BenchResult[], predicate: (result: BenchResult) => boolean) =>
	results.find((result) => predicate(result) && !result.skipped && !result.error);

const echoAt = (results: readonly BenchResult[], target: string, terminals: number) =>
	find(results, (result) => result.bench === 'echo' && result.target === target && result.terminals === terminals);

function echoRatio(percentile: 'p50' | 'p99'): Goal {
	return {
		text: `echo ${percentile} within 2× the network floor at 100 terminals`,
		unit: '×',
		check(results) {
			const podlab = echoAt(results, 'podlab', 100);
			const floor = echoAt(results, 'network-floor', 100);
			if (!podlab?.[percentile] || !floor?.[percentile]) return { why: 'no echo figures at 100 terminals for podlab and the network floor' };
			const value = podlab[percentile] / floor[percentile];
			const wetty = echoAt(results, 'wetty', 100);
			const peer = wetty?.[percentile] ? `; wetty ${(wetty[percentile] / floor[percentile]).toFixed(1)}×` : '';
			// The pty's own round trip, which every terminal's echo adds to the network's.
			const pty = echoAt(results, 'pty-floor', 100)?.[percentile];
			const ptyFloor = pty ? `; the pty floor alone ${pty} ms` : '';
			return { value, limit: 2, met: value <= 2, n: podlab.n, measured: `${value.toFixed(1)}× (${podlab[percentile]} ms vs ${floor[percentile]} ms${ptyFloor}${peer})` };
		},
	};
}

function throughputShare(terminals: number): Goal {
	return {
		text: `throughput at least 85 % of the pty floor, ${terminals === 1 ? '1 terminal' : `${terminals} terminals (aggregate)`}`,
		unit: '%',
		check(results) {
			const podlab = find(results, (result) => result.bench === 'throughput' && result.target === 'podlab' && result.ack === 'xterm' && result.terminals === terminals);
			if (typeof podlab?.ofPtyFloor !== 'number') return { why: 'no podlab and pty-floor throughput figures' };
			const value = podlab.ofPtyFloor * 100;
			const wetty = find(results, (result) => result.bench === 'throughput' && result.target === 'wetty' && result.terminals === terminals);
			const peer = typeof wetty?.ofPtyFloor === 'number' ? `; wetty ${Math.round(wetty.ofPtyFloor * 100)} %` : '';
			return { value, limit: 85, met: value >= 85, n: podlab.n, measured: `${Math.round(value)} % (${podlab.value} MB/s${peer})` };
		},
	};
}

/** Issue 17: what readers get is the site's own ack policy, not the xterm.js guide's. */
const siteAckThroughput: Goal = {
	text: "throughput at least 85 % of the pty floor with the site's own ack policy, 1 terminal",
	unit: '%',
	check(results) {
		const podlab = find(results, (result) => result.bench === 'throughput' && result.target === 'podlab' && result.ack === 'site');
		if (typeof podlab?.ofPtyFloor !== 'number') return { why: "no podlab throughput figures with the site's ack policy and the pty floor" };
		const value = podlab.ofPtyFloor * 100;
		return { value, limit: 85, met: value >= 85, n: podlab.n, measured: `${Math.round(value)} % (${podlab.value} MB/s, ${podlab.acksPerMB} acks per MB)` };
	},
};

/** Issue 17: a terminal that only echoes needs no flow-control acks. */
const acksWhileTyping: Goal = {
	text: 'no acks sent for keys echoed, 100 terminals typing',
	unit: 'acks/key',
	check(results) {
		const podlab = echoAt(results, 'podlab', 100);
		if (typeof podlab?.acksPerKey !== 'number') return { why: 'no echo figures with acks per key at 100 terminals' };
		return { value: podlab.acksPerKey, limit: 0, met: podlab.acksPerKey === 0, n: podlab.n, measured: `${podlab.acksPerKey} acks per key` };
	},
};

const capacity: Goal = {
	text: 'at least 500 attached terminals with echo p99 under 50 ms',
	unit: 'ms',
	check(results) {
		const podlab = echoAt(results, 'podlab', 500);
		if (podlab?.p99 == null) return { why: 'no echo figures at 500 terminals' };
		return { value: podlab.p99, limit: 50, met: podlab.p99 < 50, n: podlab.n, measured: `p99 ${podlab.p99} ms at 500 active terminals` };
	},
};

/** Issue 17: many terminals typing at once, against the peer in the same run. */
const echoAt500: Goal = {
	text: "echo p99 at most 20 ms at 500 terminals, and below wetty's in the same run",
	unit: 'ms',
	check(results) {
		const podlab = echoAt(results, 'podlab', 500);
		const wetty = echoAt(results, 'wetty', 500);
		if (podlab?.p99 == null || wetty?.p99 == null) return { why: 'no echo figures at 500 terminals for podlab and wetty' };
		return {
			value: podlab.p99,
			limit: 20,
			met: podlab.p99 <= 20 && podlab.p99 < wetty.p99,
			n: podlab.n,
			measured: `p99 ${podlab.p99} ms (wetty ${wetty.p99} ms)`,
		};
	},
};

/** Issue 17: the knee of the capacity ramp. A ramp that never passed KNEE_MS counts its largest step. */
const knee: Goal = {
	text: `echo p99 passes ${KNEE_MS} ms at 1000 active terminals or more`,
	unit: 'terminals',
	check(results) {
		const line = find(results, (result) => result.bench === 'capacity' && result.target === 'podlab' && result.case === KNEE_CASE);
		if (!line) return { why: 'the capacity ramp was not measured' };
		const passedAt = typeof line.value === 'number' ? line.value : null;
		const lastUnder = typeof line.lastUnder === 'number' ? line.lastUnder : 0;
		const value = passedAt ?? lastUnder;
		return {
			value,
			limit: 1000,
			met: value >= 1000,
			n: line.n,
			measured: passedAt === null ? `not passed up to ${lastUnder} terminals` : `passed at ${passedAt} (under at ${lastUnder || 'no step'})`,
		};
	},
};

function click(mode: 'warm' | 'cold', limit: number): Goal {
	return {
		text: `${mode} click-to-output under ${limit} ms (median)`,
		unit: 'ms',
		check(results) {
			const result = find(results, (candidate) => candidate.bench === 'click-to-output' && candidate.mode === mode);
			if (result?.p50 == null) return { why: 'click-to-output was not measured' };
			return { value: result.p50, limit, met: result.p50 < limit, n: result.n, measured: `p50 ${result.p50} ms, p99 ${result.p99} ms` };
		},
	};
}

/** A page-weight line of the chapter itself (not the plain Starlight page, not a difference). */
const chapterWeight = (results: readonly BenchResult[], kind: 'js' | 'css', phase: 'before' | 'run') =>
	find(results, (result) => result.bench === 'page-weight' && result.target === 'podlab' && result.kind === kind && result.phase === phase && !result.aboveStarlight);

const pageWeight: Goal = {
	text: 'a chapter page loads under 60 KB of JavaScript (gzip) before the first Run',
	unit: 'KB',
	check(results) {
		const result = chapterWeight(results, 'js', 'before');
		if (typeof result?.value !== 'number') return { why: 'page weight was not measured' };
		return { value: result.value, limit: 60, met: result.value < 60, n: result.n, measured: `${result.value} KB in ${result.n} files` };
	},
};

/** Issue 17: cold click-to-output, both percentiles. */
function coldClick(percentile: 'p50' | 'p99', limit: number): Goal {
	return {
		text: `cold click-to-output ${percentile} at most ${limit} ms`,
		unit: 'ms',
		check(results) {
			const result = find(results, (candidate) => candidate.bench === 'click-to-output' && candidate.mode === 'cold');
			const value = result?.[percentile];
			if (typeof value !== 'number') return { why: 'click-to-output was not measured' };
			return { value, limit, met: value <= limit, n: result!.n, measured: `p50 ${result!.p50} ms, p99 ${result!.p99} ms` };
		},
	};
}

/** Issue 17: what the first Run downloads (xterm.js and the panel; no optional addon). */
const firstRunWeight: Goal = {
	text: 'the first Run loads at most 100 KB of JavaScript (gzip)',
	unit: 'KB',
	check(results) {
		const result = chapterWeight(results, 'js', 'run');
		if (typeof result?.value !== 'number') return { why: 'page weight was not measured' };
		return { value: result.value, limit: 100, met: result.value <= 100, n: result.n, measured: `${result.value} KB in ${result.n} files` };
	},
};

/** Issue 17: podlab's own JavaScript before the first Run, above a plain Starlight page of the same versions measured in the same run. */
const ownShareBeforeRun: Goal = {
	text: "podlab's own JavaScript before the first Run at most 4 KB (gzip) above a plain Starlight page",
	unit: 'KB',
	check(results) {
		const result = find(results, (candidate) => candidate.bench === 'page-weight' && candidate.case === 'js-before-above-starlight');
		if (typeof result?.value !== 'number') return { why: 'page weight was not measured side by side with a plain Starlight page' };
		return {
			value: result.value,
			limit: 4,
			met: result.value <= 4,
			n: result.n,
			measured: `${result.value} KB (${result.podlabKB} KB vs ${result.starlightKB} KB)`,
		};
	},
};

/** Not from issue 7: the instructor page must keep up with a class of the default size (30 seats). */
const instructorWatch: Goal = {
	text: 'one instructor page watches 30 students (the default seats) live: every thumbnail updates, p99 under 1 s',
	unit: 'ms',
	check(results) {
		const result = find(results, (candidate) => candidate.bench === 'instructor-watch' && candidate.students === 30 && candidate.linesPerSecond === 1);
		if (result?.p99 == null) return { why: 'no instructor-watch figures for 30 students' };
		const updated = typeof result.updatedFraction === 'number' ? result.updatedFraction : 0;
		return {
			value: result.p99,
			limit: 1000,
			met: result.live === true,
			n: result.n,
			measured: `p50 ${result.p50} ms, p99 ${result.p99} ms; ${Math.round(updated * 100)} % of thumbnails updated`,
		};
	},
};

/** Labs of one's own: a latency of the labs benchmark, by its case, at or below `limit`. */
function labLatency(text: string, labCase: string, percentile: 'p50' | 'p99', limit: number): Goal {
	return {
		text,
		unit: 'ms',
		check(results) {
			const result = find(results, (candidate) => candidate.bench === 'labs' && candidate.target === 'incus' && candidate.case.startsWith(labCase));
			const value = result?.[percentile];
			if (value == null) return { why: `no labs figures for "${labCase}"` };
			return { value, limit, met: value <= limit, n: result!.n, measured: `${percentile} ${value} ms (p50 ${result!.p50}, p99 ${result!.p99})` };
		},
	};
}

/** Labs of one's own: how many one host holds, running idle or stopped on disk. */
function labsHeld(kind: 'running idle' | 'stopped', limit: number): Goal {
	return {
		text: `${kind} labs held by one 24 GiB / 2-core host: at least ${limit}`,
		unit: 'labs',
		check(results) {
			const result = find(results, (candidate) => candidate.bench === 'labs' && candidate.target === 'host' && candidate.case.startsWith(kind === 'stopped' ? 'stopped labs held' : 'running idle labs held'));
			if (typeof result?.value !== 'number') return { why: `no labs figures for ${kind} labs` };
			const detail = kind === 'stopped' ? `${result.perLabMiB} MiB of the pool each` : `${result.memoryPerLabMiB} MiB of memory each; about ${result.projectedIn24GiB} would fit`;
			return { value: result.value, limit, met: result.value >= limit, n: result.n, measured: `${result.value} held (${detail})` };
		},
	};
}

/** The lab path (the incus backend, what readers get by default): its name in the figures. */
const LAB = 'podlab-lab';
const pathName = (target: string) => (target === LAB ? 'the lab path' : 'local');

/** The lab path with the site's acks, as a share of `local` with the same acks in the same run. */
const labPathShareOfLocal: Goal = {
	text: 'lab-path throughput, 1 terminal, site acks: at least 80 % of local in the same run',
	unit: '%',
	check(results) {
		const lab = find(results, (result) => result.bench === 'throughput' && result.target === LAB && result.ack === 'site');
		if (typeof lab?.ofLocal !== 'number') return { why: 'no lab-path and local throughput figures with the site’s acks' };
		const value = lab.ofLocal * 100;
		return { value, limit: 80, met: value >= 80, n: lab.n, measured: `${Math.round(value)} % (${lab.value} MB/s)` };
	},
};

/** A path's throughput (xterm acks) against wetty's in the same run; one terminal also against 95 % of the relay floor. */
function throughputVsWetty(target: string, terminals: 1 | 10): Goal {
	return {
		text: `throughput, ${terminals === 1 ? '1 terminal' : '10 terminals aggregate'}, ${pathName(target)}: at least wetty's${terminals === 1 ? ' and 95 % of the relay floor' : ''}`,
		unit: '× wetty',
		check(results) {
			const at = (name: string) => find(results, (result) => result.bench === 'throughput' && result.target === name && result.terminals === terminals && (result.ack === undefined || result.ack === 'xterm'));
			const ours = at(target);
			const wetty = at('wetty');
			if (typeof ours?.value !== 'number' || typeof wetty?.value !== 'number') return { why: `no ${pathName(target)} and wetty throughput figures for ${terminals} terminal(s)` };
			const value = ours.value / wetty.value;
			const relay = at('relay-floor');
			const ofRelay = terminals === 1 && typeof relay?.value === 'number' ? ours.value / relay.value : null;
			const met = value >= 1 && (terminals !== 1 || (ofRelay !== null && ofRelay >= 0.95));
			const relayText = ofRelay === null ? '' : `, ${Math.round(ofRelay * 100)} % of the relay floor's ${relay!.value}`;
			return { value, limit: 1, met, n: ours.n, measured: `${value.toFixed(2)}× (${ours.value} vs ${wetty.value} MB/s${relayText})` };
		},
	};
}

/** Echo on the lab path at 100 terminals, against the network floor. */
function labEchoRatio(percentile: 'p50' | 'p99'): Goal {
	return {
		text: `echo ${percentile} on the lab path within 2.5× the network floor at 100 terminals`,
		unit: '×',
		check(results) {
			const lab = echoAt(results, LAB, 100);
			const floor = echoAt(results, 'network-floor', 100);
			if (!lab?.[percentile] || !floor?.[percentile]) return { why: 'no lab-path echo figures at 100 terminals' };
			const value = lab[percentile] / floor[percentile];
			// What a process holding the pty costs by itself, as the lab's terminal relay is one.
			const relay = echoAt(results, 'relay-echo-floor', 100)?.[percentile];
			const relayFloor = relay ? `; the relay-echo floor ${(relay / floor[percentile]).toFixed(1)}×, ${relay} ms` : '';
			return { value, limit: 2.5, met: value <= 2.5, n: lab.n, measured: `${value.toFixed(1)}× (${lab[percentile]} ms vs ${floor[percentile]} ms${relayFloor})` };
		},
	};
}

/** A flood in the reader's page (Chromium, the site's client, CPU at full speed) on the lab path, against `local`'s in the same run. */
const labPageFlood: Goal = {
	text: "a flood in the reader's page, the lab path: at least 90 % of local's in the same run",
	unit: '%',
	check(results) {
		const at = (target: string) => find(results, (result) => result.bench === 'browser-flood' && result.target === target && result.cpuSlowdown === 1);
		const [lab, local] = [at(LAB), at('podlab')];
		if (typeof lab?.value !== 'number' || typeof local?.value !== 'number') return { why: 'no page flood figures for the lab path and local' };
		const value = (lab.value / local.value) * 100;
		return { value, limit: 90, met: value >= 90, n: lab.n, measured: `${Math.round(value)} % (${lab.value} vs ${local.value} MB/s)` };
	},
};

export const GOALS: readonly Goal[] = [
	echoRatio('p50'),
	echoRatio('p99'),
	throughputShare(1),
	throughputShare(10),
	siteAckThroughput,
	acksWhileTyping,
	capacity,
	click('warm', 50),
	click('cold', 400),
	pageWeight,
	instructorWatch,
	echoAt500,
	knee,
	coldClick('p50', 250),
	coldClick('p99', 400),
	firstRunWeight,
	ownShareBeforeRun,
	labLatency('first prompt of a reader’s terminal from the warm pool, p50 at most 300 ms', 'first prompt from the warm pool', 'p50', 300),
	labLatency('first prompt of a reader’s terminal from the warm pool, p99 at most 600 ms', 'first prompt from the warm pool', 'p99', 600),
	labLatency('a new lab (no warm lab left), p50 at most 600 ms', 'a new lab: made, started and booted', 'p50', 600),
	labLatency('a stopped lab started again, p50 at most 500 ms', 'first prompt, its stopped lab started again', 'p50', 500),
	labLatency('a lab reset, p50 at most 1 s', 'reset a lab', 'p50', 1000),
	labLatency('echo p99 in a reader’s terminal while 30 labs run the sidecar pods, at most 20 ms', 'echo with 30 labs', 'p99', 20),
	labsHeld('running idle', 150),
	labsHeld('stopped', 1000),
	labPathShareOfLocal,
	throughputVsWetty('podlab', 1),
	throughputVsWetty(LAB, 1),
	throughputVsWetty('podlab', 10),
	throughputVsWetty(LAB, 10),
	labEchoRatio('p50'),
	labEchoRatio('p99'),
	labPageFlood,
];

/** One result line per goal: `met` true/false, or null with `why` when it could not be checked. */
export function evaluateGoals(results: readonly BenchResult[]): BenchResult[] {
	return GOALS.map((goal) => {
		const outcome = goal.check(results);
		const base = { bench: 'goal', target: 'podlab', case: goal.text, p50: null, p99: null, unit: goal.unit };
		if ('why' in outcome) return { ...base, n: 0, value: null, met: null, why: outcome.why };
		return { ...base, n: outcome.n, value: outcome.value, limit: outcome.limit, met: outcome.met, measured: outcome.measured };
	});
}
