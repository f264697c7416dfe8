/**
 * Benchmark: labs of one's own (the incus backend), in-process against this machine's Incus. Measures
 * what a reader waits for — a first prompt from the warm pool and with no warm lab left, a stopped
 * lab started again, a reset — and what labs cost: memory and disk per idle lab and per lab running
 * the sidecar chapter's pods (lab/manifests/nginx-deployment.yaml), echo in one lab's terminal while
 * the others run those pods, and how many running idle labs and stopped labs one host holds.
 * Needs root and `npm run lab:setup`; removes every lab it made.
 */
import { mkdtempSync } from 'node:fs';
import { readFile, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { IncusApi } from '../lab/incus/incus-api.ts';
import { DEFAULT_LAB_LIMITS } from '../lab/incus/lab-profile.ts';
import { LOCAL_SOCKET, PROJECT, STORAGE_POOL } from '../lab/incus/names.ts';
import { detectIncusLabs } from '../lab/incus/status.ts';
import { LAB_SOURCE_DIR } from '../lab/lib/paths.ts';
import type { ProcessEvents } from '../server/backends/backend.ts';
import { loadGatewayIdentity } from '../server/backends/incus/gateway-identity.ts';
import { IncusBackend } from '../server/backends/incus/incus.ts';
import { Labs } from '../server/backends/incus/labs.ts';
import type { Benchmark } from './lib/context.ts';
import { summarize } from './lib/stats.ts';

const BENCH = 'labs';
const TARGET = 'incus';

/** A terminal's output as the benchmark waits on it: the first prompt, then each echo. */
class Waiter {
	#seen = '';
	#match: ((text: string) => boolean) | null = null;
	#resolve: (() => void) | null = null;

	readonly events: ProcessEvents = {
		output: (chunk) => {
			this.#seen += chunk.toString('latin1');
			if (this.#match?.(this.#seen)) {
				this.#match = null;
				this.#seen = '';
				this.#resolve!();
			}
		},
		drain: () => {},
		exit: () => {},
	};

	for(match: (text: string) => boolean): Promise<void> {
		this.#seen = '';
		return new Promise((resolve) => {
			this.#match = match;
			this.#resolve = resolve;
		});
	}
}

const PROMPT = (text: string) => text.includes('\x1b]133;A');

export const labs: Benchmark = {
	name: BENCH,
	description: 'incus labs: first prompt (warm pool, no warm lab, stopped lab), reset; memory and disk per lab; echo with N labs running the sidecar pods; running and stopped labs per host',
	async run(context) {
		const { report, progress, cleanup } = context;
		const status = await detectIncusLabs({ socketPath: LOCAL_SOCKET });
		if (!status.available) {
			const why = `labs unavailable: ${status.missing.join('; ')}`;
			progress.step(BENCH, `skipped: ${why}`);
			report.add({ bench: BENCH, target: TARGET, case: 'first prompt from the warm pool', n: 0, p50: null, p99: null, unit: 'ms', skipped: why });
			return;
		}
		// What goes wrong in the backend is told on stderr, beside the progress lines.
		const warnings = pino({ level: 'warn' }, pino.destination(2));
		const api = new IncusApi({ socketPath: LOCAL_SOCKET }, PROJECT);
		const identity = await loadGatewayIdentity(mkdtempSync(join(tmpdir(), 'podlab-bench-labs-')));
		const store = new Labs(api, identity, DEFAULT_LAB_LIMITS);
		const gateways = [identity.id];
		cleanup.defer('benchmark labs', async () => {
			for (const instance of await store.instances()) if (gateways.includes(instance.gateway ?? '')) await store.destroy(instance.name).catch(() => {});
			api.close();
		}, 600_000);
		const backend = await IncusBackend.create({ api: new IncusApi({ socketPath: LOCAL_SOCKET }, PROJECT), identity, limits: DEFAULT_LAB_LIMITS, warmLabs: 1, idleStopMs: 3_600_000, retainMs: 0, logger: warnings });
		cleanup.defer('incus backend', () => backend.close(), 120_000);

		const rounds = context.quick ? 2 : 10;
		let readers = 0;
		const open = async (reader: string) => {
			const waiter = new Waiter();
			const prompted = waiter.for(PROMPT);
			const started = performance.now();
			const terminal = await backend.spawn({ id: `${reader}-main`, reader, term: 'main', nonce: `n${reader}`, cols: 80, rows: 24 }, waiter.events);
			await prompted;
			return { terminal, waiter, ms: performance.now() - started };
		};

		// A reader's first terminal, from the warm pool; the same reader's terminal once the lab was stopped; a reset.
		const warmMs: number[] = [];
		const stoppedMs: number[] = [];
		const resetMs: number[] = [];
		for (let round = 0; round < rounds; round++) {
			await backend.warm();
			const reader = `bench${readers++}`;
			const first = await open(reader);
			warmMs.push(first.ms);
			await first.terminal.detach();
			await backend.stopIdle(reader);
			const again = await open(reader);
			stoppedMs.push(again.ms);
			await again.terminal.detach();
			await backend.warm();
			const started = performance.now();
			await backend.resetLab(reader);
			resetMs.push(performance.now() - started);
		}
		report.add({ bench: BENCH, target: TARGET, case: 'first prompt from the warm pool', ...summarize(warmMs)!, unit: 'ms' });
		report.add({ bench: BENCH, target: TARGET, case: 'first prompt, its stopped lab started again', ...summarize(stoppedMs)!, unit: 'ms' });
		report.add({ bench: BENCH, target: TARGET, case: 'reset a lab (warm pool)', ...summarize(resetMs)!, unit: 'ms' });
		progress.step(BENCH, `${rounds} readers: warm pool, stopped lab, reset`);

		// No warm lab left: a lab is made, started and readied for the terminal that waits for it.
		// A gateway of its own: two backends of one identity would take each other's warm labs.
		const coldIdentity = await loadGatewayIdentity(mkdtempSync(join(tmpdir(), 'podlab-bench-labs-cold-')));
		gateways.push(coldIdentity.id);
		const cold = await IncusBackend.create({ api: new IncusApi({ socketPath: LOCAL_SOCKET }, PROJECT), identity: coldIdentity, limits: DEFAULT_LAB_LIMITS, warmLabs: 0, idleStopMs: 3_600_000, retainMs: 0, logger: warnings });
		cleanup.defer('incus backend (no warm pool)', () => cold.close(), 120_000);
		const coldMs: number[] = [];
		const makeMs: number[] = [];
		for (let round = 0; round < rounds; round++) {
			const reader = `cold${round}`;
			const waiter = new Waiter();
			const prompted = waiter.for(PROMPT);
			const started = performance.now();
			const terminal = await cold.spawn({ id: `${reader}-main`, reader, term: 'main', nonce: `c${round}`, cols: 80, rows: 24 }, waiter.events);
			await prompted;
			coldMs.push(performance.now() - started);
			await terminal.detach();
			await cold.endReader(reader);
			// The lab alone: made from the image, started, booted (its init done), as Incus measures it.
			const made = performance.now();
			const lab = await store.create();
			await store.start(lab.name);
			const booted = await store.run(lab.name, ['sh', '-c', 'while [ ! -e /run/podlab-ready ]; do sleep 0.01; done'], { timeoutMs: 30_000 });
			if (booted.code !== 0) throw new Error(`${lab.name} did not boot`);
			makeMs.push(performance.now() - made);
			await store.destroy(lab.name);
		}
		report.add({ bench: BENCH, target: TARGET, case: 'first prompt, no warm lab left', ...summarize(coldMs)!, unit: 'ms' });
		report.add({ bench: BENCH, target: TARGET, case: 'a new lab: made, started and booted', ...summarize(makeMs)!, unit: 'ms' });

		// A class: N labs running the sidecar chapter's pods, and echo in one reader's terminal meanwhile.
		const count = context.quick ? 2 : 30;
		const busy: string[] = [];
		for (let index = 0; index < count; index++) {
			const lab = await store.create();
			await store.start(lab.name);
			busy.push(lab.name);
		}
		await new Promise((resolve) => setTimeout(resolve, 3000));
		const idle = await Promise.all(busy.map((name) => store.usage(name)));
		report.add({ bench: BENCH, target: TARGET, case: 'cgroup memory per idle lab', ...summarize(idle.map((usage) => (usage.memoryBytes ?? 0) / 2 ** 20))!, unit: 'MiB' });
		const manifest = await readFile(`${LAB_SOURCE_DIR}/manifests/nginx-deployment.yaml`, 'utf8');
		const podMs: number[] = [];
		for (const name of busy) {
			const started = performance.now();
			const played = await store.run(name, ['podman', 'kube', 'play', '-'], { input: manifest, timeoutMs: 120_000 });
			if (played.code !== 0) throw new Error(`kube play in ${name} failed: ${played.stderr.trim().split('\n').at(-1)}`);
			podMs.push(performance.now() - started);
		}
		report.add({ bench: BENCH, target: TARGET, case: 'kube play of the sidecar pods', ...summarize(podMs)!, unit: 'ms' });
		await new Promise((resolve) => setTimeout(resolve, 3000));
		const withPods = await Promise.all(busy.map((name) => store.usage(name)));
		report.add({ bench: BENCH, target: TARGET, case: 'cgroup memory per lab with the sidecar pods', ...summarize(withPods.map((usage) => (usage.memoryBytes ?? 0) / 2 ** 20))!, unit: 'MiB' });
		report.add({ bench: BENCH, target: TARGET, case: 'disk per lab with the sidecar pods', ...summarize(withPods.map((usage) => (usage.diskBytes ?? 0) / 2 ** 20))!, unit: 'MiB' });
		report.add({ bench: BENCH, target: 'host', case: `memory available with ${count} labs running the sidecar pods`, n: 1, p50: null, p99: null, value: (await memAvailableBytes()) / 2 ** 30, unit: 'GiB' });
		const echoReader = `echo${readers++}`;
		await backend.warm();
		const { terminal, waiter } = await open(echoReader);
		const echoMs: number[] = [];
		for (let probe = 0; probe < (context.quick ? 20 : 200); probe++) {
			const echoed = waiter.for((text) => text.includes('x'));
			const sent = performance.now();
			terminal.write(Buffer.from('x'));
			await echoed;
			echoMs.push(performance.now() - sent);
			terminal.write(Buffer.from('\x7f'));
			await new Promise((resolve) => setTimeout(resolve, 20));
		}
		await terminal.detach();
		report.add({ bench: BENCH, target: TARGET, case: `echo with ${count} labs running the sidecar pods`, ...summarize(echoMs)!, unit: 'ms' });
		for (const name of busy) await store.destroy(name);
		progress.step(BENCH, `${count} labs with the sidecar pods: memory, disk, echo`);

		await capacity(context, store);
	},
};

/**
 * How many labs one host holds: N running idle labs (memory: what the host has left, with Incus's
 * own share), and M stopped labs on disk (each a copy of a lab that ran the sidecar chapter's pods
 * and was stopped: what a day's readers leave).
 */
async function capacity(context: Parameters<Benchmark['run']>[0], store: Labs): Promise<void> {
	const { report, progress } = context;
	const running = context.quick ? 3 : 150;
	const stopped = context.quick ? 5 : 1000;
	const availableBefore = await memAvailableBytes();
	const incusdBefore = await incusdRssBytes();
	const idle: string[] = [];
	const startMs: number[] = [];
	for (let index = 0; index < running; index++) {
		const lab = await store.create();
		idle.push(lab.name);
		const started = performance.now();
		await store.start(lab.name);
		startMs.push(performance.now() - started);
	}
	await new Promise((resolve) => setTimeout(resolve, 5000));
	const used = availableBefore - (await memAvailableBytes());
	const incusd = (await incusdRssBytes()) - incusdBefore;
	report.add({ bench: BENCH, target: TARGET, case: `start of a new lab, while ${running} idle labs start`, ...summarize(startMs)!, unit: 'ms' });
	report.add({ bench: BENCH, target: 'host', case: `running idle labs held (${running} started)`, n: running, p50: null, p99: null, value: running, unit: 'labs', memoryUsedGiB: used / 2 ** 30, memoryPerLabMiB: used / running / 2 ** 20, incusdGrowthMiB: incusd / 2 ** 20, memoryAvailableGiB: (await memAvailableBytes()) / 2 ** 30, projectedIn24GiB: used > 0 ? Math.floor((22 * 2 ** 30) / (used / running)) : null });
	for (const name of idle) await store.destroy(name);
	progress.step(BENCH, `${running} running idle labs`);

	// The template: a lab that ran the sidecar chapter's pods, stopped. Each stopped lab is a copy (a btrfs snapshot, as a lab of its image is).
	const template = await store.create();
	await store.start(template.name);
	const manifest = await readFile(`${LAB_SOURCE_DIR}/manifests/nginx-deployment.yaml`, 'utf8');
	await store.run(template.name, ['sh', '-c', 'while [ ! -e /run/podlab-ready ]; do sleep 0.05; done; podman kube play - >/dev/null'], { input: manifest, timeoutMs: 120_000 });
	await store.stop(template.name);
	const poolBefore = await poolUsedBytes(store.api);
	const hostBefore = await freeBytes('/var/lib');
	const copies: string[] = [];
	const copyMs: number[] = [];
	try {
		for (let index = 0; index < stopped; index++) {
			const name = `${template.name}-${index}`;
			const started = performance.now();
			await store.api.call('POST', '/1.0/instances', { body: { name, source: { type: 'copy', source: template.name, instance_only: true } }, timeoutMs: 120_000 });
			copyMs.push(performance.now() - started);
			copies.push(name);
			if (index % 100 === 99) progress.step(BENCH, `${index + 1} stopped labs`);
		}
		const poolUsed = (await poolUsedBytes(store.api)) - poolBefore;
		const hostUsed = hostBefore - (await freeBytes('/var/lib'));
		const pool = await store.api.get<{ config: Record<string, string> }>(`/1.0/storage-pools/${STORAGE_POOL}`, { project: null });
		report.add({ bench: BENCH, target: TARGET, case: 'copy of a stopped lab', ...summarize(copyMs)!, unit: 'ms' });
		report.add({ bench: BENCH, target: 'host', case: `stopped labs held on disk (${stopped} made)`, n: stopped, p50: null, p99: null, value: stopped, unit: 'labs', poolUsedMiB: poolUsed / 2 ** 20, perLabMiB: poolUsed / stopped / 2 ** 20, hostDiskUsedMiB: hostUsed / 2 ** 20, poolSize: pool.config.size ?? null });
	} finally {
		for (const name of copies) await store.api.call('DELETE', `/1.0/instances/${name}`, { timeoutMs: 120_000 }).catch(() => {});
		await store.destroy(template.name);
	}
	progress.step(BENCH, `${stopped} stopped labs`);
}

/** The host's MemAvailable (/proc/meminfo). */
async function memAvailableBytes(): Promise<number> {
	const match = /^MemAvailable:\s+(\d+) kB$/m.exec(await readFile('/proc/meminfo', 'utf8'));
	return Number(match?.[1] ?? 0) * 1024;
}

/** The Incus daemon's resident memory, from Incus itself. */
async function incusdRssBytes(): Promise<number> {
	const api = new IncusApi({ socketPath: LOCAL_SOCKET }, PROJECT);
	try {
		const resources = await api.get<{ environment: { server_pid: number } }>('/1.0', { project: null });
		const status = await readFile(`/proc/${resources.environment.server_pid}/status`, 'utf8');
		return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0) * 1024;
	} finally {
		api.close();
	}
}

async function poolUsedBytes(api: IncusApi): Promise<number> {
	const resources = await api.get<{ space: { used: number } }>(`/1.0/storage-pools/${STORAGE_POOL}/resources`, { project: null });
	return resources.space.used;
}

async function freeBytes(path: string): Promise<number> {
	const stats = await statfs(path);
	return stats.bavail * stats.bsize;
}
