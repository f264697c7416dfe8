/**
 * The lab path: the gateway on the incus backend, what readers get by default — every terminal a
 * shell in the reader's own lab, held by podlab's terminal relay and reached over an Incus exec. Started like
 * startPodlab, with a state directory of its own; its labs (and its kernel-log reader) are removed
 * when the benchmark ends.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newReader } from '../../tests/helpers/client.ts';
import type { RunningGateway } from '../../tests/helpers/gateway.ts';
import type { IncusApi } from '../../lab/incus/incus-api.ts';
import { incusLabProblem, localApi, removeInstancesOf, startedLab, testLabs } from '../../tests/lab/incus/incus-required.ts';
import type { Cleanup } from './cleanup.ts';
import { PodlabTerminal, startPodlab, type AckPolicy } from './podlab.ts';

/** The target name of the lab path in the benchmarks' JSON. */
export const LAB_TARGET = 'podlab-lab';

/** Terminals per reader (per lab): a reader's limit is 32; a class's 100 terminals are 4 labs. */
export const TERMINALS_PER_LAB = 25;

/** Why the lab path cannot be measured here, or null. */
export function labPathUnavailable(): Promise<string | null> {
	return incusLabProblem();
}

/** Starts the gateway on the incus backend; its labs go with the benchmark's cleanup. */
export async function startLabPath(cleanup: Cleanup, env: Record<string, string> = {}): Promise<RunningGateway> {
	const stateDir = mkdtempSync(join(tmpdir(), 'podlab-bench-lab-path-'));
	// Deferred first, so it runs last: after the gateway has stopped and let go of its labs.
	cleanup.defer(
		'lab-path labs',
		async () => {
			const api = localApi();
			await removeInstancesOf(api, [stateDir]);
			api.close();
		},
		300_000,
	);
	return startPodlab({
		env: { PODLAB_LAB_BACKEND: 'incus', PODLAB_STATE_DIR: stateDir, PODLAB_LAB_WARM_LABS: '2', PODLAB_MAX_TERMINALS: '32', PODLAB_PREVIEW_PORT: 'off', ...env },
		cleanup,
	});
}

/** A path a reader's terminal takes, for the benchmarks that measure both; `skip` says why it cannot be measured here. */
export interface TerminalPath {
	name: string;
	gateway(): Promise<RunningGateway>;
	skip: string | null;
}

/** `local` (target `podlab`) and the lab path (target {@link LAB_TARGET}), each gateway started when asked for. */
export async function bothPaths(cleanup: Cleanup): Promise<TerminalPath[]> {
	const labSkip = await labPathUnavailable();
	return [
		{ name: 'podlab', gateway: () => startPodlab({ cleanup }), skip: null },
		{ name: LAB_TARGET, gateway: () => startLabPath(cleanup), skip: labSkip },
	];
}

/**
 * Opens terminals on the lab path: {@link TERMINALS_PER_LAB} to a reader (one lab), then the next
 * reader's. The first terminal of a reader makes its lab (from the warm pool).
 */
export function labTerminals(gateway: RunningGateway, ack: AckPolicy = 'site'): () => Promise<PodlabTerminal> {
	let opened = 0;
	let reader: Promise<string> | null = null;
	return async () => {
		const slot = opened++ % TERMINALS_PER_LAB;
		if (slot === 0) reader = newReader(gateway);
		const cookie = await reader!;
		return PodlabTerminal.open(gateway, { cookie, term: `t${slot}`, ack });
	};
}

/** A lab of the benchmark's own (no gateway), booted; removed with the benchmark's cleanup. */
export async function startedBenchLab(cleanup: Cleanup): Promise<{ api: IncusApi; name: string }> {
	const labs = await testLabs();
	const name = await startedLab(labs);
	cleanup.defer(
		'the benchmark’s lab',
		async () => {
			await labs.destroy(name).catch(() => {});
			labs.api.close();
		},
		120_000,
	);
	return { api: labs.api, name };
}

