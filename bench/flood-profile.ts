/**
 * Where the gateway's CPU goes per megabyte of output: one terminal prints a flood (as in the
 * throughput benchmark, the client acking with the site's own policy) while the gateway is profiled
 * over the inspector (bench/lib/cpu-profile.ts). Reports ms of gateway CPU per MB — in all (from
 * /proc, over a flood without the profiler) and per bucket of the profile — and the rate of each.
 *
 * Not part of the default run (the profiler itself slows the gateway): `npm run bench -- --only flood-profile`.
 */
import type { Benchmark } from './lib/context.ts';
import { startProfiledPodlab, startProfiling, summarizeProfile } from './lib/cpu-profile.ts';
import { PodlabTerminal } from './lib/podlab.ts';
import { cpuSeconds } from './lib/proc.ts';
import { waitForQuiet } from './lib/terminal.ts';
import { shellFlood } from './throughput.ts';

const BENCH = 'flood-profile';
const MB = 1e6;

export const floodProfile: Benchmark = {
	name: BENCH,
	description: 'where the gateway’s CPU goes per MB of output (profiled; only with --only)',
	byDefault: false,
	async run(context) {
		// Quick: enough output that the buckets the test looks for get samples at 200 µs (2 MB gave
		// node-pty's thin handler none now and then).
		const bytes = context.quick ? 10 * MB : 100 * MB;
		const { gateway, url } = await startProfiledPodlab({}, context.cleanup);
		const terminal = await PodlabTerminal.open(gateway, { ack: 'site' });
		try {
			await waitForQuiet(terminal, 200, 30_000);
			const flood = shellFlood(terminal);
			context.progress.step(BENCH, 'warm-up flood of 10 MB');
			await flood.flood(context.quick ? MB / 2 : 10 * MB);

			// The profiler's own thread costs CPU too: the total comes from a flood without it.
			context.progress.step(BENCH, `${bytes / MB} MB, then again with the gateway profiled`);
			const cpuBefore = cpuSeconds(gateway.pid);
			const plain = await flood.flood(bytes);
			const cpuMsPerMB = ((cpuSeconds(gateway.pid) - cpuBefore) * 1000) / (bytes / MB);
			const profiling = await startProfiling(url, 100);
			const profiledCpuBefore = cpuSeconds(gateway.pid);
			const profiled = await flood.flood(bytes);
			const profiledCpuMsPerMB = ((cpuSeconds(gateway.pid) - profiledCpuBefore) * 1000) / (bytes / MB);
			const profile = await profiling.stop();
			const { buckets, mainThreadUs, saved } = summarizeProfile(profile, 'podlab-flood-profile');

			const row = { bench: BENCH, target: 'podlab', terminals: 1, ack: 'site', n: 1, p50: null, p99: null };
			context.report.add({ ...row, case: `${bytes / MB} MB: gateway CPU per MB, in all`, value: cpuMsPerMB, unit: 'ms', rate: plain.rate, profile: saved });
			context.report.add({ ...row, case: `${bytes / MB} MB: gateway CPU per MB, in all, while profiled`, value: profiledCpuMsPerMB, unit: 'ms', rate: profiled.rate });
			context.report.add({ ...row, case: `${bytes / MB} MB: main thread, profiled`, value: mainThreadUs / 1000 / (bytes / MB), unit: 'ms per MB' });
			for (const [bucket, us] of buckets) {
				context.report.add({ ...row, case: `${bytes / MB} MB: ${bucket}`, value: us / 1000 / (bytes / MB), unit: 'ms per MB' });
			}
		} finally {
			terminal.close();
		}
	},
};
