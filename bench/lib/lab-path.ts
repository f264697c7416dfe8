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
import { TERMINAL_RELAY_BINARY } from '../../lab/incus/names.ts';
import { incusLabProblem, localApi, removeInstancesOf, startedLab, testLabs } from '../../tests/lab/incus/incus-required.ts';
import type { Cleanup } from './cleanup.ts';
import { PodlabTerminal, startPodlab, type AckPolicy } from './podlab.ts';
import { commandName, descendants } from './proc.ts';

/** The target name of the lab path in the benchmarks' JSON. */
export const LAB_TARGET = 'podlab-lab';

/** Terminals per reader (per lab): a reader's limit is 32; a class's 100 terminals are 4 labs. */
export const TERMINALS_PER_LAB = 25;

/** Why the lab path cannot be measured here, or null. */
export function labPathUnavailable(): Promise<string | null> {
	return incusLabProblem();
}

/** A gateway on the lab path, with the state directory that marks its labs in Incus. */
export type LabPathGateway = RunningGateway & { stateDir: string };

/** Starts the gateway on the incus backend; its labs go with the benchmark's cleanup. */
export async function startLabPath(cleanup: Cleanup, env: Record<string, string> = {}): Promise<LabPathGateway> {
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
	const gateway = await startPodlab({
		env: { PODLAB_LAB_BACKEND: 'incus', PODLAB_STATE_DIR: stateDir, PODLAB_LAB_WARM_LABS: '2', PODLAB_MAX_TERMINALS: '32', PODLAB_PREVIEW_PORT: 'off', ...env },
		cleanup,
	});
	return Object.assign(gateway, { stateDir });
}

/** The name the kernel gives the terminal relay's processes (a command name is cut at 15 bytes). */
const RELAY_COMMAND = TERMINAL_RELAY_BINARY.slice(TERMINAL_RELAY_BINARY.lastIndexOf('/') + 1).slice(0, 15);

/**
 * The processes that hold the lab path's terminals, as the host sees them: in each of the gateway's
 * running labs, every terminal relay daemon and what runs under it (the shell, its commands). They
 * are the lab's, not the gateway's children, so they are found from each lab's init.
 */
export async function labTerminalProcesses(gateway: LabPathGateway): Promise<number[]> {
	const api = localApi();
	try {
		const instances = await api.get<Array<{ config: Record<string, string>; state: { pid: number } | null }>>('/1.0/instances', { query: { recursion: '2' } });
		const inits = instances.filter((instance) => instance.config['user.podlab.state-dir'] === gateway.stateDir && (instance.state?.pid ?? 0) > 0).map((instance) => instance.state!.pid);
		const relays = inits.flatMap((init) => descendants(init)).filter((pid) => commandName(pid) === RELAY_COMMAND);
		return [...new Set(relays.flatMap((relay) => [relay, ...descendants(relay)]))];
	} finally {
		api.close();
	}
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

