/**
 * Benchmark 2, output throughput: terminals each print a flood (`head -c N /dev/zero | tr '\0' y`)
 * and the client measures megabytes per second between two markers, with flow control on and acks
 * sent as a browser would. 1 terminal (several runs) and 10 terminals at once (aggregate), for:
 * - pty-floor: node-pty reading the same command in this process, no network: what one process
 *   reading a pty gets (the goal's reference; not a hard limit: see relay-floor);
 * - network-floor: a minimal `ws` server sending the same number of bytes, no pty;
 * - relay-floor: the same server running the command on a pty and sending each chunk it reads as a
 *   frame, nothing else: a pty and a WebSocket, the least a WebSocket terminal does;
 * - podlab: the gateway, client acking as xterm.js's flow-control guide does (one ack per 100,000
 *   bytes, the rest on the next frame), the comparison with ttyd-style clients;
 * - wetty: the peer, client committing as its own browser client does;
 * - podlab with the site's own ack policy (src/terminal/connection/ack-coalescer.ts: one ack per `ready.ackBytes`
 *   rendered, no timer), 1 terminal, the same floods as the xterm-guide client's: what readers get;
 * - podlab-lab: the same gateway on the incus backend, the path readers get by default (the shell in
 *   the reader's lab, its terminal relay over an Incus exec), both ack policies; its 10 terminals
 *   are one reader's, in one lab (lib/lab-path.ts);
 * - lab-exec-floor: the flood command run in a lab by an Incus exec of its own and read from its
 *   stdout websocket in this process, nothing else: the lab path's transport alone, no relay, no gateway.
 */
import type { IPty } from 'node-pty';
import type { RunningGateway } from '../tests/helpers/gateway.ts';
import type { Benchmark, BenchContext } from './lib/context.ts';
import { FloodMeter, aggregate, floodCommand, rateFields, type FloodTiming } from './lib/flood.ts';
import { FloorTerminal, startNetworkFloor } from './lib/network-floor.ts';
import { LAB_TARGET, labPathUnavailable, labTerminals, startLabPath, startedBenchLab } from './lib/lab-path.ts';
import { PodlabTerminal, startPodlab, type AckPolicy } from './lib/podlab.ts';
import { spawnFloorPty } from './lib/pty-floor.ts';
import { cpuSeconds } from './lib/proc.ts';
import { inBatches } from './lib/in-batches.ts';
import { waitForQuiet, type BenchTerminal } from './lib/terminal.ts';
import { WettyTerminal, startWetty, wettyUnavailable } from './lib/wetty.ts';

/** The floors the other targets' rates are given as shares of. */
const COMPARED_WITH = new Set(['pty-floor', 'network-floor']);
/** podlab's own targets, whose figures say which ack policy they were measured with. */
const PODLAB_TARGETS = new Set(['podlab', LAB_TARGET]);
/** Frame size of the network floor's flood. */
const FLOOR_FRAME_BYTES = 64 * 1024;
const MB = 1e6;

interface Sizes {
	/** One terminal: `runs` floods of `bytes`, one after the other. */
	single: { bytes: number; runs: number };
	/** `terminals` floods of `bytes` each, at once. */
	parallel: { bytes: number; terminals: number };
	warmupBytes: number;
}

const FULL: Sizes = { single: { bytes: 200 * MB, runs: 3 }, parallel: { bytes: 100 * MB, terminals: 10 }, warmupBytes: 10 * MB };
const QUICK: Sizes = { single: { bytes: 2 * MB, runs: 1 }, parallel: { bytes: 1 * MB, terminals: 2 }, warmupBytes: MB / 2 };

/** A target opened for flooding: its terminals and what starts a flood in one of them. */
interface FloodTarget {
	name: string;
	/** Process whose CPU time is charged to the target (the server), if any. */
	serverPid: number | null;
	open(count: number): Promise<FloodTerminal[]>;
}

export interface FloodTerminal {
	/** Starts a flood of `bytes`; resolves when its last byte arrived. */
	flood(bytes: number): Promise<FloodTiming>;
	/** Output frames received, bytes, and acks sent so far (for framing and ack overhead). */
	counters(): { frames: number; bytes: number; acks: number } | null;
	close(): void;
}

export const throughput: Benchmark = {
	name: 'throughput',
	description: 'output MB/s of a flood, 1 and 10 terminals: pty, network and relay floors, podlab, wetty',
	async run(context) {
		const sizes = context.quick ? QUICK : FULL;
		const floors = new Map<string, { single: number; parallel: number }>();
		let gateway: RunningGateway | null = null;
		const podlabGateway = async () => (gateway ??= await startPodlab({ cleanup: context.cleanup }));
		let labGateway: RunningGateway | null = null;
		const labPathGateway = async () => (labGateway ??= await startLabPath(context.cleanup));
		const labSkip = await labPathUnavailable();

		const targets: Array<{ name: string; start: () => Promise<FloodTarget>; skip?: string | null }> = [
			{ name: 'pty-floor', start: async () => ptyFloor() },
			{ name: 'network-floor', start: () => floorServer(context, 'network-floor') },
			{ name: 'relay-floor', start: () => floorServer(context, 'relay-floor') },
			{ name: 'podlab', start: async () => podlab(await podlabGateway(), 'xterm') },
			{ name: 'lab-exec-floor', start: () => labExecFloor(context), skip: labSkip },
			{ name: LAB_TARGET, start: async () => podlab(await labPathGateway(), 'xterm', LAB_TARGET), skip: labSkip },
			{ name: 'wetty', start: () => wetty(context), skip: wettyUnavailable() },
		];
		for (const { name, start, skip } of targets) {
			if (skip) {
				for (const what of caseNames(sizes)) context.report.add({ bench: 'throughput', target: name, case: what, n: 0, p50: null, p99: null, unit: 'MB/s', skipped: skip });
				continue;
			}
			try {
				const target = await start();
				const rates = await measureTarget(context, target, sizes, floors.get('pty-floor'), floors.get('network-floor'));
				floors.set(name, rates);
			} catch (error) {
				context.report.add({ bench: 'throughput', target: name, case: caseNames(sizes)[0]!, n: 0, p50: null, p99: null, unit: 'MB/s', error: (error as Error).message });
			}
		}
		const local = await siteClientAcks(context, await podlabGateway(), 'podlab', sizes, floors.get('pty-floor'));
		if (labSkip) context.report.add({ bench: 'throughput', target: LAB_TARGET, case: siteAckCase(sizes), n: 0, p50: null, p99: null, unit: 'MB/s', skipped: labSkip });
		else await siteClientAcks(context, await labPathGateway(), LAB_TARGET, sizes, floors.get('pty-floor'), local);
	},
};

function siteAckCase(sizes: Sizes): string {
	return `1 terminal, ${sizes.single.bytes / MB} MB, site client acks`;
}

function caseNames(sizes: Sizes): [string, string] {
	return [`1 terminal, ${sizes.single.bytes / MB} MB`, `${sizes.parallel.terminals} terminals, ${sizes.parallel.bytes / MB} MB each`];
}

async function measureTarget(
	context: BenchContext,
	target: FloodTarget,
	sizes: Sizes,
	ptyFloor: { single: number; parallel: number } | undefined,
	networkFloor: { single: number; parallel: number } | undefined,
): Promise<{ single: number; parallel: number }> {
	const [singleCase, parallelCase] = caseNames(sizes);
	const step = `throughput · ${target.name}`;
	const terminals = await target.open(sizes.parallel.terminals);
	try {
		context.progress.step(step, `warm-up flood of ${sizes.warmupBytes / MB} MB`);
		await terminals[0]!.flood(sizes.warmupBytes);

		const single: FloodTiming[] = [];
		const cpuBefore = target.serverPid ? cpuSeconds(target.serverPid) : 0;
		const countersBefore = terminals[0]!.counters();
		for (let run = 1; run <= sizes.single.runs; run++) {
			context.progress.step(step, `1 terminal, run ${run}/${sizes.single.runs}: ${sizes.single.bytes / MB} MB`);
			single.push(await terminals[0]!.flood(sizes.single.bytes));
		}
		const singleRate = aggregate(single);
		context.report.add({
			bench: 'throughput',
			target: target.name,
			case: singleCase,
			terminals: 1,
			...(PODLAB_TARGETS.has(target.name) ? { ack: 'xterm' } : {}),
			...rateFields(single),
			...overhead(target.serverPid, terminals[0]!, countersBefore, cpuBefore, single),
			...(COMPARED_WITH.has(target.name) ? {} : ratios(singleRate, ptyFloor?.single, networkFloor?.single)),
		});

		context.progress.step(step, `${sizes.parallel.terminals} terminals at once: ${sizes.parallel.bytes / MB} MB each`);
		const parallel = await Promise.all(terminals.map((terminal) => terminal.flood(sizes.parallel.bytes)));
		const parallelRate = aggregate(parallel);
		context.report.add({
			bench: 'throughput',
			target: target.name,
			case: parallelCase,
			terminals: sizes.parallel.terminals,
			...(PODLAB_TARGETS.has(target.name) ? { ack: 'xterm' } : {}),
			...rateFields(parallel),
			...(COMPARED_WITH.has(target.name) ? {} : ratios(parallelRate, ptyFloor?.parallel, networkFloor?.parallel)),
		});
		return { single: singleRate, parallel: parallelRate };
	} finally {
		for (const terminal of terminals) terminal.close();
	}
}

function ratios(rate: number, ptyFloor: number | undefined, networkFloor: number | undefined) {
	if (ptyFloor === undefined) return {};
	const ofPtyFloor = rate / ptyFloor;
	const ofNetworkFloor = networkFloor === undefined ? undefined : rate / networkFloor;
	return { ofPtyFloor, ...(ofNetworkFloor === undefined ? {} : { ofNetworkFloor }), vsFloor: `${Math.round(ofPtyFloor * 100)} % of pty floor` };
}

/** Framing, ack and CPU cost per megabyte of flood, for targets that have a server and counters. */
function overhead(
	serverPid: number | null,
	terminal: FloodTerminal,
	before: { frames: number; bytes: number; acks: number } | null,
	cpuBefore: number,
	timings: readonly FloodTiming[],
) {
	const after = terminal.counters();
	const megabytes = timings.reduce((total, timing) => total + timing.bytes, 0) / MB;
	const fields: Record<string, number> = {};
	if (before && after) {
		const frames = after.frames - before.frames;
		fields.framesPerMB = frames / megabytes;
		fields.meanFrameBytes = (after.bytes - before.bytes) / frames;
		fields.acksPerMB = (after.acks - before.acks) / megabytes;
	}
	if (serverPid) fields.serverCpuMsPerMB = ((cpuSeconds(serverPid) - cpuBefore) * 1000) / megabytes;
	return fields;
}

/** Waits for a flood, failing early when the connection ends, and after a generous timeout. */
async function awaitFlood(meter: FloodMeter, terminal: BenchTerminal, bytes: number): Promise<FloodTiming> {
	const timeoutMs = 60_000 + bytes / 1000; // at least 1 MB/s
	const result = meter.attach(terminal);
	const started = performance.now();
	while (true) {
		const done = await Promise.race([result, new Promise<null>((resolve) => setTimeout(() => resolve(null), 100))]);
		if (done) {
			if (done.bytes !== bytes) throw new Error(`the flood delivered ${done.bytes} bytes instead of ${bytes}`);
			return done;
		}
		if (terminal.failure) throw new Error(`${terminal.failure} during the flood`);
		if (performance.now() - started > timeoutMs) throw new Error(`the flood of ${bytes / MB} MB did not finish within ${Math.round(timeoutMs / 1000)} s`);
	}
}

/** A shell target's terminal: type the flood command, meter the output. */
export function shellFlood(terminal: BenchTerminal & { frames: number; bytes: number; acks: number }): FloodTerminal {
	return {
		flood(bytes) {
			const meter = new FloodMeter(bytes);
			const done = awaitFlood(meter, terminal, bytes);
			const before = terminal.bytes;
			terminal.type(`${floodCommand(bytes)}\r`);
			return done.then(async (timing) => {
				// Let the prompt come back before the next flood is typed.
				await waitForQuiet(terminal, 100, 30_000, before);
				return timing;
			});
		},
		counters: () => ({ frames: terminal.frames, bytes: terminal.bytes, acks: terminal.acks }),
		close: () => terminal.close(),
	};
}

function ptyFloor(): FloodTarget {
	return {
		name: 'pty-floor',
		serverPid: null,
		async open(count) {
			return Array.from({ length: count }, () => {
				let pty: IPty | null = null;
				return {
					flood(bytes: number) {
						const meter = new FloodMeter(bytes);
						// `sleep` keeps the pty open until the last byte is read (node-pty may drop output that
						// arrives after the process exits); the pty is killed once the end marker is in.
						pty = spawnFloorPty('/bin/sh', ['-c', `${floodCommand(bytes)}; exec sleep 60`]);
						const current = pty;
						const terminal: BenchTerminal = {
							bytes: 0,
							failure: null,
							type: () => {},
							onOutput: (listener) => {
								const subscription = current.onData((data) => listener(data as unknown as Buffer));
								return () => subscription.dispose();
							},
							close: () => current.kill('SIGKILL'),
						};
						return awaitFlood(meter, terminal, bytes).finally(() => current.kill('SIGKILL'));
					},
					counters: () => null,
					close: () => pty?.kill('SIGKILL'),
				};
			});
		},
	};
}

/**
 * A floor the floor server plays: the network floor sends the bytes bare, in frames of
 * FLOOR_FRAME_BYTES; the relay floor sends its pty's output of the flood command, markers included.
 */
async function floorServer(context: BenchContext, name: 'network-floor' | 'relay-floor'): Promise<FloodTarget> {
	const floor = await startNetworkFloor(context.cleanup);
	const relay = name === 'relay-floor';
	return {
		name,
		serverPid: floor.pid,
		async open(count) {
			const terminals = await Promise.all(Array.from({ length: count }, () => FloorTerminal.open(floor)));
			return terminals.map((terminal) => ({
				flood(bytes: number) {
					const done = awaitFlood(new FloodMeter(bytes, { markers: relay }), terminal, bytes);
					if (relay) terminal.requestPtyFlood(bytes);
					else terminal.requestFlood(bytes, FLOOR_FRAME_BYTES);
					return done;
				},
				counters: () => null,
				close: () => terminal.close(),
			}));
		},
	};
}

/** podlab's terminals: a reader each on `local`, one reader's (one lab's) on the lab path. */
function podlab(gateway: RunningGateway, ack: AckPolicy, name = 'podlab'): FloodTarget {
	const openLabTerminal = name === LAB_TARGET ? labTerminals(gateway, ack) : null;
	return {
		name,
		serverPid: gateway.pid,
		async open(count) {
			const terminals = await inBatches(count, 4, async () => {
				const terminal = openLabTerminal ? await openLabTerminal() : await PodlabTerminal.open(gateway, { ack });
				await waitForQuiet(terminal, 200, 30_000);
				return terminal;
			});
			return terminals.map(shellFlood);
		},
	};
}

/** The lab path's transport alone: each flood an exec of its own in one lab, its stdout counted here. */
async function labExecFloor(context: BenchContext): Promise<FloodTarget> {
	const lab = await startedBenchLab(context.cleanup);
	return {
		name: 'lab-exec-floor',
		serverPid: null,
		async open(count) {
			return Array.from({ length: count }, () => {
				const sessions = new Set<{ close(): void }>();
				return {
					async flood(bytes: number) {
						const meter = new FloodMeter(bytes);
						const listeners = new Set<(chunk: Buffer) => void>();
						const terminal: BenchTerminal = {
							bytes: 0,
							failure: null,
							type: () => {},
							onOutput: (listener) => {
								listeners.add(listener);
								return () => listeners.delete(listener);
							},
							close: () => {},
						};
						const done = awaitFlood(meter, terminal, bytes);
						// No pty here to turn the marker's newline into \r\n: printf writes the markers as a pty would.
						const command = `printf 'FLOOD-START\\r\\n'; head -c ${bytes} /dev/zero | tr '\\0' y; printf 'FLOOD-END\\r\\n'`;
						const session = await lab.api.exec(lab.name, { command: ['sh', '-c', command] }, { stdout: (chunk) => listeners.forEach((listener) => listener(chunk)), stderr: () => {} });
						sessions.add(session);
						return done.finally(() => {
							session.close();
							sessions.delete(session);
						});
					},
					counters: () => null,
					close: () => sessions.forEach((session) => session.close()),
				};
			});
		},
	};
}

async function wetty(context: BenchContext): Promise<FloodTarget> {
	const running = await startWetty(context.cleanup);
	return {
		name: 'wetty',
		serverPid: running.pid,
		async open(count) {
			const terminals = await inBatches(count, 4, async () => {
				const terminal = await WettyTerminal.open(running);
				await waitForQuiet(terminal, 200, 30_000);
				return terminal;
			});
			return terminals.map(shellFlood);
		},
	};
}

/**
 * The site's own ack policy (what readers get): the same floods as the one-terminal case, on a
 * terminal of its own (a warm-up, then `single.runs` floods). A close (LAB_ERR_RATE, LAB_ERR_BAD_ACK)
 * or a stall is the finding, reported as an error with how far the floods got.
 */
async function siteClientAcks(
	context: BenchContext,
	gateway: RunningGateway,
	target: string,
	sizes: Sizes,
	ptyFloorRates: { single: number } | undefined,
	local?: number | null,
): Promise<number | null> {
	const what = siteAckCase(sizes);
	const step = `throughput · ${target} (site client acks)`;
	const terminal = target === LAB_TARGET ? await labTerminals(gateway, 'site')() : await PodlabTerminal.open(gateway, { ack: 'site' });
	try {
		await waitForQuiet(terminal, 200, 30_000);
		const flood = shellFlood(terminal);
		context.progress.step(step, `warm-up flood of ${sizes.warmupBytes / MB} MB`);
		await flood.flood(sizes.warmupBytes);
		const cpuBefore = cpuSeconds(gateway.pid);
		const countersBefore = flood.counters();
		const timings: FloodTiming[] = [];
		for (let run = 1; run <= sizes.single.runs; run++) {
			context.progress.step(step, `run ${run}/${sizes.single.runs}: ${sizes.single.bytes / MB} MB`);
			timings.push(await flood.flood(sizes.single.bytes));
		}
		const rate = aggregate(timings);
		context.report.add({
			bench: 'throughput',
			target,
			case: what,
			terminals: 1,
			ack: 'site',
			...rateFields(timings),
			...overhead(gateway.pid, flood, countersBefore, cpuBefore, timings),
			...ratios(rate, ptyFloorRates?.single, undefined),
			// The lab path as a share of `local` in the same run.
			...(typeof local === 'number' ? { ofLocal: rate / local } : {}),
		});
		return rate;
	} catch (error) {
		context.report.add({
			bench: 'throughput',
			target,
			case: what,
			n: 0,
			p50: null,
			p99: null,
			unit: 'MB/s',
			error: `${(error as Error).message}, after ${(terminal.bytes / MB).toFixed(1)} MB in ${terminal.frames} frames with ${terminal.acks} acks`,
		});
		return null;
	} finally {
		terminal.close();
	}
}
