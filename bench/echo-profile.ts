/**
 * Where the gateway's CPU goes per key echoed: 100 and 500 terminals run `cat` and type 10 keys/s,
 * as in the echo benchmark, while the gateway is profiled over the inspector (bench/lib/cpu-profile.ts).
 * Reports µs of gateway CPU per key — in all (from /proc), and per bucket of the profile — beside the
 * network floor's CPU per key (a `ws` echo server: what receiving and sending one small frame costs).
 *
 * Not part of the default run (the profiler itself slows the gateway): `npm run bench -- --only echo-profile`.
 */
import type { Benchmark } from './lib/context.ts';
import { startProfiledPodlab, startProfiling, summarizeProfile } from './lib/cpu-profile.ts';
import { inBatches } from './lib/in-batches.ts';
import { FLOOR_KEYSTROKES, FloorTerminal, startNetworkFloor } from './lib/network-floor.ts';
import { PodlabTerminal } from './lib/podlab.ts';
import { cpuSeconds } from './lib/proc.ts';
import { PTY_KEYSTROKES, startCat, stopCat, waitForQuiet, type BenchTerminal, type Keystroke } from './lib/terminal.ts';
import { measureTyping } from './lib/typing.ts';

const BENCH = 'echo-profile';
const KEYS_PER_SECOND = 10;

export const echoProfile: Benchmark = {
	name: BENCH,
	description: 'where the gateway’s CPU goes per key echoed (profiled; only with --only)',
	byDefault: false,
	async run(context) {
		const sizes = context.quick ? [4] : [100, 500];
		// The quick run still needs enough keys for each bucket to get samples.
		const window = context.quick ? { warmupMs: 300, measureMs: 3000 } : { warmupMs: 1000, measureMs: 8000 };

		const floor = await startNetworkFloor(context.cleanup);
		const floorTerminals: BenchTerminal[] = [];
		for (const size of sizes) {
			floorTerminals.push(...(await inBatches(size - floorTerminals.length, 16, () => FloorTerminal.open(floor))));
			const { cpuUs, sent } = await typeFor(floorTerminals, FLOOR_KEYSTROKES, floor.pid, window);
			context.report.add({ bench: BENCH, target: 'network-floor', case: `${size} terminals: CPU per key, in all`, terminals: size, n: sent, p50: null, p99: null, value: cpuUs / sent, unit: 'µs' });
		}
		for (const terminal of floorTerminals) terminal.close();

		const { gateway, url } = await startProfiledPodlab({ PODLAB_MAX_READERS: String(Math.max(...sizes) + 10) }, context.cleanup);
		const terminals: PodlabTerminal[] = [];
		for (const size of sizes) {
			context.progress.step(BENCH, `opening ${size - terminals.length} more terminals`);
			terminals.push(
				...(await inBatches(size - terminals.length, 8, async () => {
					const terminal = await PodlabTerminal.open(gateway, { ack: 'site' });
					await waitForQuiet(terminal, 200, 60_000);
					return terminal;
				})),
			);
			await inBatches(terminals.length, 32, (index) => startCat(terminals[index]!));
			context.progress.step(BENCH, `${size} terminals typing ${KEYS_PER_SECOND} keys/s, then again with the gateway profiled`);
			// The profiler's own thread costs CPU too: the total comes from a window without it.
			const { cpuUs, sent } = await typeFor(terminals, PTY_KEYSTROKES, gateway.pid, window);
			const profiling = await startProfiling(url, 100);
			const profiled = await typeFor(terminals, PTY_KEYSTROKES, gateway.pid, window);
			const profile = await profiling.stop();
			await inBatches(terminals.length, 32, (index) => stopCat(terminals[index]!));
			const { buckets, mainThreadUs, saved } = summarizeProfile(profile, `podlab-echo-profile-${size}`);
			context.report.add({ bench: BENCH, target: 'podlab', case: `${size} terminals: CPU per key, in all`, terminals: size, n: sent, p50: null, p99: null, value: cpuUs / sent, unit: 'µs', profile: saved });
			context.report.add({ bench: BENCH, target: 'podlab', case: `${size} terminals: CPU per key, in all, while profiled`, terminals: size, n: profiled.sent, p50: null, p99: null, value: profiled.cpuUs / profiled.sent, unit: 'µs' });
			context.report.add({ bench: BENCH, target: 'podlab', case: `${size} terminals: main thread, profiled`, terminals: size, n: profiled.sent, p50: null, p99: null, value: mainThreadUs / profiled.sent, unit: 'µs per key' });
			for (const [bucket, us] of buckets) {
				context.report.add({ bench: BENCH, target: 'podlab', case: `${size} terminals: ${bucket}`, terminals: size, n: profiled.sent, p50: null, p99: null, value: us / profiled.sent, unit: 'µs per key' });
			}
		}
		for (const terminal of terminals) terminal.close();
	},
};

/** Types on every terminal for the window; the server's CPU time meanwhile (µs) and the keys sent. */
async function typeFor(terminals: readonly BenchTerminal[], keystrokes: readonly Keystroke[], serverPid: number, window: { warmupMs: number; measureMs: number }) {
	const before = cpuSeconds(serverPid);
	const result = await measureTyping(
		terminals.map((terminal) => ({ terminal, keystrokes })),
		{ keysPerSecond: KEYS_PER_SECOND, ...window, drainMs: 1000 },
	);
	return { cpuUs: (cpuSeconds(serverPid) - before) * 1e6, sent: result.sent };
}
