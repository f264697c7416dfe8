/**
 * Benchmarks 1 and 3, on one ramp of terminals per target (spawning and ending hundreds of shells
 * takes minutes here, so they are opened once and serve both):
 *
 * 1. Keystroke echo round trip: `active` terminals each run `cat` and type about 10 keys/s; the
 *    client times each key until its echo is back. At 1, 100 and 500 active terminals, for the
 *    network floor (a `ws` echo server), the pty floor (`cat` on a pty of this process, no network),
 *    podlab and wetty: a WebSocket terminal's echo pays both floors, one after the other. At 1 and
 *    100, the lab path and the relay-echo floor (the network floor with a relay process holding the
 *    pty, bench/lib/relay-hop.c): what any terminal whose shell outlives its server pays.
 * 3. Capacity: the server's RSS (after a full garbage collection, over the inspector) and file
 *    descriptors per idle attached terminal (shells at their prompt) at 100 and 500; the shells' own
 *    memory; how long a terminal takes to start; the number of active terminals at which echo p99
 *    passes 50 ms; how long the server takes to shut down with all of them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Benchmark, BenchContext } from './lib/context.ts';
import { KNEE_CASE, KNEE_MS } from './lib/goals.ts';
import { FLOOR_KEYSTROKES, FloorTerminal, startNetworkFloor } from './lib/network-floor.ts';
import { LAB_TARGET, labPathUnavailable, labTerminalProcesses, labTerminals, startLabPath } from './lib/lab-path.ts';
import { PodlabTerminal, startPodlab, stopPodlab } from './lib/podlab.ts';
import { PtyFloorTerminal } from './lib/pty-floor.ts';
import { buildRelayHop } from './lib/relay-hop.ts';
import { collectGarbage, inspectOption, inspectorUrl } from './lib/inspector.ts';
import { cpuSeconds, descendants, openFds, pssBytes, rssBytes } from './lib/proc.ts';
import type { BenchResult } from './lib/report.ts';
import { summarize } from './lib/stats.ts';
import { inBatches } from './lib/in-batches.ts';
import { PTY_KEYSTROKES, startCat, stopCat, waitForQuiet, type BenchTerminal, type Keystroke } from './lib/terminal.ts';
import { measureTyping } from './lib/typing.ts';
import { WettyTerminal, startWetty, stopWetty, wettyUnavailable } from './lib/wetty.ts';

const KEYS_PER_SECOND = 10;
/** The lab path is measured up to this many terminals (four labs of 25: lib/lab-path.ts), and the relay-echo floor with it. */
const LAB_PATH_TERMINALS = 100;
/** Terminals started at once while ramping up. */
const SPAWN_CONCURRENCY = 8;
/** How long the server may take to shut down before the benchmark kills it (and says so). */
const SHUTDOWN_LIMIT_MS = 120_000;

interface Plan {
	/** Fleet sizes with a full echo measurement, in order; the first three are reported as issue 7 asks. */
	steps: number[];
	/** Sizes with an idle snapshot (RSS, fds, shell memory). */
	snapshots: number[];
	/** Active-terminal counts tried between the last two steps when p99 passed the knee there. */
	between: number[];
	/** Larger fleets tried while p99 stays under the knee. */
	beyond: number[];
	window(active: number): { warmupMs: number; measureMs: number };
}

const FULL: Plan = {
	steps: [1, 100, 500],
	snapshots: [100, 500],
	between: [200, 300, 400],
	beyond: [750, 1000],
	// 1 terminal: 150 keys; 100 and 500 terminals: 6,000 and 30,000; counts tried for the knee: a shorter look.
	window: (active) => (active === 1 ? { warmupMs: 2000, measureMs: 15_000 } : active === 100 || active === 500 ? { warmupMs: 2000, measureMs: 6000 } : { warmupMs: 1000, measureMs: 4000 }),
};

const QUICK: Plan = { steps: [1, 3], snapshots: [3], between: [2], beyond: [], window: () => ({ warmupMs: 300, measureMs: 1000 }) };

/** One target as the ramp drives it. */
interface Fleet {
	target: string;
	serverPid: number;
	keystrokes: readonly Keystroke[];
	/** A shell target: terminals start at a prompt and run `cat` to echo; the floor echoes by itself. */
	shell: boolean;
	/** The processes that hold the terminals (the shells and what holds them). @default the server's descendants */
	shellProcesses?(): Promise<number[]>;
	/** A full garbage collection in the server, before its RSS is read (a Node server's inspector). */
	collectGarbage?(): Promise<void>;
	open(): Promise<BenchTerminal & { connectStartedAt: number; firstOutputAt: number }>;
	/** Stops the server with every terminal attached; resolves with how long that took (ms), or null past {@link SHUTDOWN_LIMIT_MS}. */
	stop(): Promise<number | null>;
}

export const echoCapacity: Benchmark = {
	name: 'echo-capacity',
	description: 'keystroke echo at 1/100/500 active terminals; RSS, fds, spawn time, the 50 ms knee, shutdown',
	async run(context) {
		const plan = context.quick ? QUICK : FULL;
		const relayHop = await buildRelayHop(context.cleanup).then(
			(path) => ({ path, skipped: null }),
			(error: Error) => ({ path: undefined, skipped: error.message }),
		);
		const floor = await startNetworkFloor(context.cleanup, { relayHop: relayHop.path });
		const floorFleet: Fleet = {
			target: 'network-floor',
			serverPid: floor.pid,
			keystrokes: FLOOR_KEYSTROKES,
			shell: false,
			open: async () => Object.assign(await FloorTerminal.open(floor), { connectStartedAt: 0, firstOutputAt: 0 }),
			stop: async () => 0,
		};
		const floorPlan = { ...plan, snapshots: [], between: [], beyond: [] };
		const floorEcho = await ramp(context, floorFleet, floorPlan, new Map());
		const ptyFloorFleet: Fleet = {
			target: 'pty-floor',
			serverPid: process.pid,
			keystrokes: PTY_KEYSTROKES,
			shell: false,
			open: async () => Object.assign(new PtyFloorTerminal(), { connectStartedAt: 0, firstOutputAt: 0 }),
			stop: async () => 0,
		};
		await ramp(context, ptyFloorFleet, floorPlan, new Map());
		// The relay-echo floor: the network floor plus a process holding the pty, at the lab path's sizes.
		const relayFloorPlan = { ...floorPlan, steps: floorPlan.steps.filter((size) => size <= LAB_PATH_TERMINALS) };
		if (relayHop.skipped) {
			for (const active of relayFloorPlan.steps) {
				context.report.add({ bench: 'echo', target: 'relay-echo-floor', case: terminalsCase(active), terminals: active, n: 0, p50: null, p99: null, unit: 'ms', skipped: relayHop.skipped });
			}
		} else {
			const relayFloorFleet: Fleet = {
				...floorFleet,
				target: 'relay-echo-floor',
				keystrokes: PTY_KEYSTROKES,
				async open() {
					const terminal = await FloorTerminal.open(floor);
					terminal.relayEcho();
					return Object.assign(terminal, { connectStartedAt: 0, firstOutputAt: 0 });
				},
			};
			await ramp(context, relayFloorFleet, relayFloorPlan, floorEcho);
		}

		// startPodlab lifts the per-address socket cap (every terminal's socket comes from 127.0.0.1).
		const podlab = await startPodlab({ env: { PODLAB_MAX_READERS: String(maxTerminals(plan) + 10), NODE_OPTIONS: inspectOption() }, cleanup: context.cleanup });
		await ramp(
			context,
			{
				target: 'podlab',
				serverPid: podlab.pid,
				keystrokes: PTY_KEYSTROKES,
				shell: true,
				open: () => PodlabTerminal.open(podlab),
				collectGarbage: garbageCollector(podlab.logs()),
				stop: () => stopPodlab(podlab, SHUTDOWN_LIMIT_MS),
			},
			plan,
			floorEcho,
		);

		// The lab path (the incus backend): 1 and 100 terminals, four labs of 25 (lib/lab-path.ts).
		const labSkip = await labPathUnavailable();
		const labPlan: Plan = { ...plan, steps: plan.steps.filter((size) => size <= LAB_PATH_TERMINALS), snapshots: plan.snapshots.filter((size) => size <= LAB_PATH_TERMINALS), between: [], beyond: [] };
		if (labSkip) {
			for (const active of labPlan.steps) {
				context.report.add({ bench: 'echo', target: LAB_TARGET, case: terminalsCase(active), terminals: active, n: 0, p50: null, p99: null, unit: 'ms', skipped: labSkip });
			}
		} else {
			const labGateway = await startLabPath(context.cleanup, { PODLAB_MAX_READERS: String(maxTerminals(plan) + 10), NODE_OPTIONS: inspectOption() });
			await ramp(
				context,
				{
					target: LAB_TARGET,
					serverPid: labGateway.pid,
					keystrokes: PTY_KEYSTROKES,
					shell: true,
					open: labTerminals(labGateway),
					shellProcesses: () => labTerminalProcesses(labGateway),
					collectGarbage: garbageCollector(labGateway.logs()),
					stop: () => stopPodlab(labGateway, SHUTDOWN_LIMIT_MS),
				},
				labPlan,
				floorEcho,
			);
		}

		const unavailable = wettyUnavailable();
		if (unavailable) {
			for (const active of plan.steps) {
				context.report.add({ bench: 'echo', target: 'wetty', case: terminalsCase(active), terminals: active, n: 0, p50: null, p99: null, unit: 'ms', skipped: unavailable });
			}
			return;
		}
		const wetty = await startWetty(context.cleanup, { inspect: true });
		await ramp(
			context,
			{
				target: 'wetty',
				serverPid: wetty.pid,
				keystrokes: PTY_KEYSTROKES,
				shell: true,
				open: () => WettyTerminal.open(wetty),
				collectGarbage: () => collectGarbage(wetty.inspector!),
				stop: () => stopWetty(wetty),
			},
			plan,
			floorEcho,
		);
	},
};

/** Output frames received and acks sent over these terminals, when the client counts them. */
function messageCounts(terminals: readonly BenchTerminal[]): { frames: number; acks: number } | null {
	let frames = 0;
	let acks = 0;
	for (const terminal of terminals) {
		if (!('frames' in terminal) || !('acks' in terminal)) return null;
		frames += terminal.frames as number;
		acks += terminal.acks as number;
	}
	return { frames, acks };
}

/** Collects the garbage of the server whose output is `logs` (started with {@link inspectOption}). */
function garbageCollector(logs: string): () => Promise<void> {
	const url = inspectorUrl(logs);
	if (!url) throw new Error('the gateway did not print its inspector address');
	return () => collectGarbage(url);
}

function terminalsCase(active: number): string {
	return active === 1 ? '1 terminal' : `${active} terminals`;
}

function maxTerminals(plan: Plan): number {
	return Math.max(...plan.steps, ...plan.beyond);
}

/**
 * Grows the target's fleet step by step, measuring echo at each step (and idle resources where the
 * plan says), then finds the knee and shuts the server down. Returns echo results by active count.
 */
async function ramp(context: BenchContext, fleet: Fleet, plan: Plan, floorEcho: ReadonlyMap<number, BenchResult>): Promise<Map<number, BenchResult>> {
	const step = `echo-capacity · ${fleet.target}`;
	const terminals: Array<BenchTerminal & { connectStartedAt: number; firstOutputAt: number }> = [];
	const spawnMs: number[] = [];
	const echo = new Map<number, BenchResult>();
	await fleet.collectGarbage?.();
	const baseline = { rss: rssBytes(fleet.serverPid), fds: openFds(fleet.serverPid) };
	let previousSnapshot: { terminals: number; rss: number } | null = null;

	const grow = async (size: number) => {
		const tick = context.progress.counter(step, 'terminals open', size - terminals.length);
		const opened = await inBatches(size - terminals.length, SPAWN_CONCURRENCY, async () => {
			const terminal = await fleet.open();
			if (fleet.shell) {
				await waitForQuiet(terminal, 200, 60_000);
				spawnMs.push(terminal.firstOutputAt - terminal.connectStartedAt);
			}
			tick();
			return terminal;
		});
		terminals.push(...opened);
	};

	const measure = async (active: number) => {
		const typing = terminals.slice(0, active);
		const window = plan.window(active);
		context.progress.step(step, `${active} of ${terminals.length} terminals typing ${KEYS_PER_SECOND} keys/s for ${(window.warmupMs + window.measureMs) / 1000} s`);
		if (fleet.shell) await inBatches(typing.length, 32, (index) => startCat(typing[index]!));
		const cpuBefore = cpuSeconds(fleet.serverPid);
		const messagesBefore = messageCounts(typing);
		const clientCpuBefore = process.cpuUsage();
		const started = performance.now();
		const result = await measureTyping(
			typing.map((terminal) => ({ terminal, keystrokes: fleet.keystrokes })),
			{ keysPerSecond: KEYS_PER_SECOND, ...window },
		);
		const elapsedSeconds = (performance.now() - started) / 1000;
		const serverCpuPercent = ((cpuSeconds(fleet.serverPid) - cpuBefore) / elapsedSeconds) * 100;
		const clientCpu = process.cpuUsage(clientCpuBefore);
		const clientCpuPercent = ((clientCpu.user + clientCpu.system) / 1e6 / elapsedSeconds) * 100;
		const messagesAfter = messageCounts(typing);
		// What one keystroke costs on the wire: output frames back, and flow-control acks sent.
		const perKey =
			messagesBefore && messagesAfter && result.sent > 0
				? { framesPerKey: (messagesAfter.frames - messagesBefore.frames) / result.sent, acksPerKey: (messagesAfter.acks - messagesBefore.acks) / result.sent }
				: {};
		if (fleet.shell) await inBatches(typing.length, 32, (index) => stopCat(typing[index]!));
		const summary = summarize(result.latencies);
		const floor = floorEcho.get(active);
		const failed = typing.filter((terminal) => terminal.failure).length;
		const line = context.report.add({
			bench: 'echo',
			target: fleet.target,
			case: terminalsCase(active),
			terminals: active,
			attached: terminals.length,
			n: summary?.n ?? 0,
			p50: summary?.p50 ?? null,
			p99: summary?.p99 ?? null,
			unit: 'ms',
			max: summary?.max ?? null,
			keysPerSecond: KEYS_PER_SECOND,
			lost: result.lost,
			...(failed > 0 ? { failedTerminals: failed } : {}),
			serverCpuPercent,
			clientCpuPercent,
			...perKey,
			clientDelayP99Ms: result.clientDelayP99Ms,
			...(floor?.p50 && floor.p99 && summary
				? { ratio: { p50: summary.p50 / floor.p50, p99: summary.p99 / floor.p99 }, vsFloor: `p50 ${(summary.p50 / floor.p50).toFixed(1)}×, p99 ${(summary.p99 / floor.p99).toFixed(1)}×` }
				: {}),
		});
		echo.set(active, line);
		return line;
	};

	const snapshot = async () => {
		// Let the shells settle, and the server drop what the ramp-up left behind, as before the baseline.
		await sleep(2000);
		await fleet.collectGarbage?.();
		const count = terminals.length;
		const rss = rssBytes(fleet.serverPid);
		const fds = openFds(fleet.serverPid);
		const shells = fleet.shellProcesses ? await fleet.shellProcesses() : descendants(fleet.serverPid);
		const shellPss = shells.reduce((total, pid) => total + pssBytes(pid), 0);
		const common = { bench: 'capacity', target: fleet.target, terminals: count, n: count, p50: null, p99: null };
		context.report.add({
			...common,
			case: `server RSS per idle terminal, ${count} attached`,
			unit: 'KiB',
			value: (rss - baseline.rss) / count / 1024,
			serverRssMiB: rss / 1024 ** 2,
			baselineRssMiB: baseline.rss / 1024 ** 2,
			...(previousSnapshot ? { marginalKiB: (rss - previousSnapshot.rss) / (count - previousSnapshot.terminals) / 1024 } : {}),
		});
		context.report.add({ ...common, case: `server file descriptors per idle terminal, ${count} attached`, unit: 'fds', value: (fds - baseline.fds) / count, serverFds: fds });
		context.report.add({
			...common,
			case: `shell memory (PSS) per idle terminal, ${count} attached`,
			unit: 'KiB',
			value: shellPss / count / 1024,
			processesPerTerminal: shells.length / count,
		});
		previousSnapshot = { terminals: count, rss };
	};

	let knee: number | null = null;
	let kneeAbove = 0;
	for (const size of plan.steps) {
		await grow(size);
		if (fleet.shell && plan.snapshots.includes(size)) await snapshot();
		const line = await measure(size);
		if (knee === null && line.p99 !== null && line.p99 > KNEE_MS) knee = size;
		else if (knee === null) kneeAbove = size;
	}
	if (fleet.shell) {
		if (knee !== null) {
			// Passed between the last step under the knee and `knee`: try the counts in between, with the
			// fleet already open (idle attached terminals cost nothing while they wait).
			for (const active of plan.between.filter((count) => count > kneeAbove && count < knee!)) {
				const line = await measure(active);
				if (line.p99 !== null && line.p99 > KNEE_MS) {
					knee = active;
					break;
				}
				kneeAbove = active;
			}
		} else {
			for (const size of plan.beyond) {
				await grow(size);
				const line = await measure(size);
				if (line.p99 !== null && line.p99 > KNEE_MS) {
					knee = size;
					break;
				}
				kneeAbove = size;
			}
		}
		const spawn = summarize(spawnMs);
		context.report.add({
			bench: 'capacity',
			target: fleet.target,
			case: `terminal start: connect to first prompt byte, ${SPAWN_CONCURRENCY} at a time`,
			n: spawn?.n ?? 0,
			p50: spawn?.p50 ?? null,
			p99: spawn?.p99 ?? null,
			unit: 'ms',
			max: spawn?.max ?? null,
		});
		context.report.add({
			bench: 'capacity',
			target: fleet.target,
			case: KNEE_CASE,
			n: echo.size,
			p50: null,
			p99: null,
			unit: 'terminals',
			value: knee,
			lastUnder: kneeAbove || null,
			...(knee === null ? { note: `not passed up to ${terminals.length} terminals` } : {}),
		});
	}

	const count = terminals.length;
	context.progress.step(step, `stopping the server with ${count} terminals attached`);
	for (const terminal of terminals) if (!fleet.shell) terminal.close();
	const shutdown = { bench: 'capacity', target: fleet.target, case: `server shutdown (SIGTERM) with ${count} terminals`, n: count, p50: null, p99: null, unit: 's' };
	try {
		const stopMs = await fleet.stop();
		if (fleet.shell) {
			context.report.add(
				stopMs === null
					? { ...shutdown, value: null, note: `not done after ${SHUTDOWN_LIMIT_MS / 1000} s: the benchmark killed it and its shells` }
					: { ...shutdown, value: stopMs / 1000 },
			);
		}
	} catch (error) {
		context.report.add({ ...shutdown, error: (error as Error).message });
	}
	for (const terminal of terminals) terminal.close();
	return echo;
}
