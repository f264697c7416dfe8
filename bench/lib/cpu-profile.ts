/**
 * Where a Node process's CPU goes: a V8 CPU profile taken over the inspector protocol for a window
 * of the benchmark (not the process's whole life), then each sample put in one bucket of the
 * gateway's own making (WebSocket receive and send, the pty write and read, the terminal core, …).
 *
 * A sample goes to the innermost frame of its stack that a rule names: `fs.writeSync` called from
 * the pty input goes to "pty write", a `writev` called from ws's sender to "ws send". Time in a
 * native call (the syscall itself) is counted in the JS function that made it, so the buckets hold
 * the kernel's part too.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningGateway } from '../../tests/helpers/gateway.ts';
import type { Cleanup } from './cleanup.ts';
import { inspectOption, inspectorUrl, openInspector } from './inspector.ts';
import { startPodlab } from './podlab.ts';

interface ProfileNode {
	id: number;
	callFrame: { functionName: string; url: string };
	children?: number[];
}

export interface CpuProfile {
	nodes: ProfileNode[];
	samples: number[];
	/** Microseconds since the previous sample, per sample. */
	timeDeltas: number[];
}

/** The buckets, innermost match first; a stack no rule names is "other". Order matters. */
const RULES: ReadonlyArray<{ bucket: string; url?: RegExp; fn?: RegExp }> = [
	{ bucket: 'idle (waiting for the next event)', fn: /^\(idle\)$/ },
	{ bucket: 'garbage collection', fn: /^\(garbage collector\)$/ },
	{ bucket: 'pty write (syscall included)', url: /server\/backends\/local\/pty-input\.ts/ },
	{ bucket: 'OSC 133 scan', url: /server\/terminal\/osc133\.ts/ },
	{ bucket: 'flow control and acks', url: /server\/terminal\/flow-control\.ts/ },
	{ bucket: 'output batching', url: /server\/terminal\/output-batcher\.ts/ },
	{ bucket: 'scrollback', url: /server\/terminal\/scrollback\.ts/ },
	{ bucket: 'terminal core (state, typed lines)', url: /server\/terminal\// },
	{ bucket: 'cgroup accounting', url: /server\/backends\/local\/cgroup\.ts/ },
	{ bucket: 'pty read (node-pty)', url: /node-pty\/|server\/backends\/local\// },
	{ bucket: 'protocol (zod, JSON)', url: /src\/protocol\.ts|node_modules\/zod\// },
	{ bucket: 'ws send (frame + writev, syscall included)', url: /node_modules\/ws\/lib\/sender\.js/ },
	{ bucket: 'ws receive (read + frame parse)', url: /node_modules\/ws\/lib\/(receiver|websocket|buffer-util|validation)\.js/ },
	{ bucket: 'podlab: socket attachment, readers, gateway', url: /server\// },
	{ bucket: 'socket read (libuv → JS)', fn: /^onStreamRead$/ },
	{ bucket: 'timers and immediates', url: /^node:internal\/timers$/ },
	{ bucket: 'native, outside JS (event loop, syscalls)', fn: /^\(program\)$/ },
];

/** Microseconds of CPU per bucket over the profile. */
export function bucketProfile(profile: CpuProfile): Map<string, number> {
	const byId = new Map(profile.nodes.map((node) => [node.id, node]));
	const parent = new Map<number, number>();
	for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
	const bucketOf = new Map<number, string>();
	const classify = (id: number): string => {
		const known = bucketOf.get(id);
		if (known) return known;
		const { functionName, url } = byId.get(id)!.callFrame;
		const rule = RULES.find((candidate) => (candidate.url ? candidate.url.test(url) : true) && (candidate.fn ? candidate.fn.test(functionName) : true));
		const up = parent.get(id);
		const bucket = rule?.bucket ?? (up === undefined ? 'other' : classify(up));
		bucketOf.set(id, bucket);
		return bucket;
	};
	const totals = new Map<string, number>();
	profile.samples.forEach((id, index) => {
		const bucket = classify(id);
		totals.set(bucket, (totals.get(bucket) ?? 0) + (profile.timeDeltas[index] ?? 0));
	});
	return totals;
}

/** A CPU profile being taken in the process behind `url`; `stop()` ends it and returns it. */
export async function startProfiling(url: string, samplingIntervalUs = 200): Promise<{ stop(): Promise<CpuProfile> }> {
	const session = await openInspector(url);
	await session.call('Profiler.enable');
	await session.call('Profiler.setSamplingInterval', { interval: samplingIntervalUs });
	await session.call('Profiler.start');
	return {
		async stop() {
			const { profile } = (await session.call('Profiler.stop')) as { profile: CpuProfile };
			session.close();
			return profile;
		},
	};
}

/** A gateway started as the benchmarks start it, with its inspector open for {@link startProfiling}. */
export async function startProfiledPodlab(env: Record<string, string>, cleanup: Cleanup): Promise<{ gateway: RunningGateway; url: string }> {
	const gateway = await startPodlab({ env: { ...env, NODE_OPTIONS: inspectOption() }, cleanup });
	const url = inspectorUrl(gateway.logs());
	if (!url) throw new Error('the gateway did not print its inspector address');
	return { gateway, url };
}

/**
 * The profile's busy buckets, largest first, and their sum: what the main thread spent (the rest
 * of the process's CPU is other threads and kernel work outside its syscalls). Also saves the
 * profile as `name`.cpuprofile in the temporary directory, for a closer look in Chromium's DevTools
 * (Performance, Load profile), and returns its path.
 */
export function summarizeProfile(profile: CpuProfile, name: string): { buckets: Array<[string, number]>; mainThreadUs: number; saved: string } {
	const saved = join(tmpdir(), `${name}-${process.pid}.cpuprofile`);
	writeFileSync(saved, JSON.stringify(profile));
	const buckets = [...bucketProfile(profile)].filter(([bucket]) => !bucket.startsWith('idle')).sort((a, b) => b[1] - a[1]);
	return { buckets, mainThreadUs: buckets.reduce((total, [, us]) => total + us, 0), saved };
}
