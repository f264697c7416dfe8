/**
 * Benchmark: labs of one's own (the lxc backend), in-process on this host's real LXC. Measures making
 * a lab (cold: no warm pool), a reader's first prompt from a warm pool, resetting a lab, memory and
 * disk per idle lab (the lab's memory cgroup: what its processes and page cache use) and per lab running the sidecar chapter's pods (lab/manifests/nginx-deployment.yaml),
 * and the echo round trip in one lab's terminal while the others run those pods.
 * Needs root and `npm run lab:setup`; removes every lab it made.
 */
import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import { DEFAULT_LAB_LIMITS } from '../lab/lxc/lab-config.ts';
import { LAB_SOURCE_DIR } from '../lab/lib/paths.ts';
import { Labs } from '../server/backends/lxc/labs.ts';
import { LxcBackend } from '../server/backends/lxc/lxc.ts';
import { detectLxcLabs } from '../lab/lxc/status.ts';
import { syncPool } from '../lab/lxc/pool.ts';
import type { Benchmark } from './lib/context.ts';
import { summarize } from './lib/stats.ts';

const BENCH = 'labs';

export const labs: Benchmark = {
	name: BENCH,
	description: 'lxc labs: make, first prompt, reset; memory and disk per lab; echo with N labs running the sidecar pods',
	async run(context) {
		const { report, progress, cleanup } = context;
		const status = await detectLxcLabs();
		if (!status.available) {
			const why = `labs unavailable: ${status.missing.join('; ')}`;
			progress.step(BENCH, `skipped: ${why}`);
			report.add({ bench: BENCH, target: 'lxc', case: 'make a lab (cold)', n: 0, p50: null, p99: null, unit: 'ms', skipped: why });
			return;
		}
		// The goal: a class of 30, each with the sidecar pods running, on one 2-core / 24 GB box.
		const count = context.quick ? 2 : 30;
		const store = new Labs(DEFAULT_LAB_LIMITS);
		const made: string[] = [];
		cleanup.defer('benchmark labs', async () => {
			for (const name of made) await store.destroy(name);
		}, 120_000);

		// Cold: made one after the other, as the warm pool makes them.
		const coldMs: number[] = [];
		for (let index = 0; index < count; index++) {
			const started = performance.now();
			made.push(await store.create(await store.freeSlot()));
			coldMs.push(performance.now() - started);
		}
		progress.step(BENCH, `${count} labs made`);
		report.add({ bench: BENCH, target: 'lxc', case: 'make a lab (cold)', ...summarize(coldMs)!, unit: 'ms' });
		await new Promise((resolve) => setTimeout(resolve, 3000));
		const idle = await Promise.all(made.map((name) => store.usage(name)));
		report.add({ bench: BENCH, target: 'lxc', case: 'cgroup memory per idle lab', ...summarize(idle.map((usage) => (usage.memoryBytes ?? 0) / 2 ** 20))!, unit: 'MiB' });

		// The sidecar chapter's pods in every lab.
		const manifest = await readFile(`${LAB_SOURCE_DIR}/manifests/nginx-deployment.yaml`, 'utf8');
		const podMs: number[] = [];
		for (const name of made) {
			const started = performance.now();
			const played = await store.exec(name, ['podman', 'kube', 'play', '-'], { input: manifest, timeoutMs: 120_000 });
			if (played.code !== 0) throw new Error(`kube play in ${name} failed: ${played.stderr.trim().split('\n').at(-1)}`);
			podMs.push(performance.now() - started);
		}
		report.add({ bench: BENCH, target: 'lxc', case: 'kube play of the sidecar pods', ...summarize(podMs)!, unit: 'ms' });
		await new Promise((resolve) => setTimeout(resolve, 3000));
		await syncPool();
		const withPods = await Promise.all(made.map((name) => store.usage(name)));
		report.add({ bench: BENCH, target: 'lxc', case: 'cgroup memory per lab with the sidecar pods', ...summarize(withPods.map((usage) => (usage.memoryBytes ?? 0) / 2 ** 20))!, unit: 'MiB' });
		report.add({ bench: BENCH, target: 'lxc', case: 'disk per lab with the sidecar pods (beyond the base)', ...summarize(withPods.map((usage) => (usage.diskExclusiveBytes ?? 0) / 2 ** 20))!, unit: 'MiB' });
		report.add({ bench: BENCH, target: 'host', case: `memory available with ${count} labs running the sidecar pods`, n: 1, p50: null, p99: null, value: (await memAvailableBytes()) / 2 ** 30, unit: 'GiB' });

		// A reader's terminal: warm pool → first prompt; echo; reset.
		const backend = await LxcBackend.create({ limits: DEFAULT_LAB_LIMITS, warmLabs: 1, idleMs: 0, logger: pino({ level: 'silent' }) });
		cleanup.defer('lxc backend', async () => {
			for (let index = 0; index < rounds; index++) await backend.endReader(`bench${index}`);
			await backend.close();
		}, 120_000);
		const rounds = context.quick ? 2 : 8;
		const promptMs: number[] = [];
		const resetMs: number[] = [];
		const echoMs: number[] = [];
		for (let index = 0; index < rounds; index++) {
			await backend.warm();
			const reader = `bench${index}`;
			// Output goes to whichever waiter is current: the first prompt, then each echo.
			let waiter: ((text: string) => boolean) | null = null;
			let seen = '';
			const waitFor = (match: (text: string) => boolean) =>
				new Promise<void>((resolve) => {
					waiter = (text) => {
						if (!match(text)) return false;
						resolve();
						return true;
					};
				});
			const events = {
				output: (chunk: Buffer) => {
					seen += chunk.toString('latin1');
					if (waiter?.(seen)) {
						waiter = null;
						seen = '';
					}
				},
				drain: () => {},
				exit: () => {},
			};
			const started = performance.now();
			const prompted = waitFor((text) => text.includes('\x1b]133;A'));
			const terminal = await backend.spawn({ id: `${reader}-main`, reader, term: 'main', nonce: `n${index}`, cols: 80, rows: 24 }, events);
			await prompted;
			promptMs.push(performance.now() - started);
			for (let probe = 0; probe < 20; probe++) {
				const echoed = waitFor((text) => text.includes('x'));
				const sent = performance.now();
				terminal.write(Buffer.from('x'));
				await echoed;
				echoMs.push(performance.now() - sent);
				terminal.write(Buffer.from('\x7f'));
				await new Promise((resolve) => setTimeout(resolve, 20));
			}
			await terminal.detach();
			await backend.warm();
			const resetStarted = performance.now();
			await backend.resetLab(reader);
			resetMs.push(performance.now() - resetStarted);
		}
		report.add({ bench: BENCH, target: 'lxc', case: 'first prompt from a warm pool', ...summarize(promptMs)!, unit: 'ms' });
		report.add({ bench: BENCH, target: 'lxc', case: `echo with ${count} labs running the sidecar pods`, ...summarize(echoMs)!, unit: 'ms' });
		report.add({ bench: BENCH, target: 'lxc', case: 'reset a lab (warm pool)', ...summarize(resetMs)!, unit: 'ms' });
	},
};

/** The host's MemAvailable (/proc/meminfo): what is left for more labs. */
async function memAvailableBytes(): Promise<number> {
	const match = /^MemAvailable:\s+(\d+) kB$/m.exec(await readFile('/proc/meminfo', 'utf8'));
	return Number(match?.[1] ?? 0) * 1024;
}
