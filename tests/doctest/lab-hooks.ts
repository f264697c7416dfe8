/**
 * What the doc-test runner asks of the lab: that it is the lab of the profile being run, a clean
 * slate before each chapter (`lab:reset`) and a description for transcripts (`lab:status`).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { detectLab } from '../../lab/status.ts';
import { LAB_PROFILES } from '../../src/protocol-values.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localApi, removeInstancesOf } from '../lab/incus/incus-required.ts';
import { NODE } from '../helpers/gateway.ts';

const RESET = fileURLToPath(new URL('../../lab/reset.ts', import.meta.url));

/** The profiles whose tabs the runner can run, each on its own kind of lab. */
export const RUNNABLE_PROFILES = LAB_PROFILES;
export type RunnableProfile = (typeof RUNNABLE_PROFILES)[number];

/**
 * Why the blocks of `profile` cannot run on this machine's lab, or null when they can: a
 * kubernetes transcript must come from a Kubernetes node, never from a podman lab.
 */
export async function profileProblem(profile: RunnableProfile): Promise<string | null> {
	const lab = await detectLab();
	if (lab.profile === profile) return null;
	const setUp = profile === 'kubernetes' ? 'a node provisioned by lab/provision/provision-node.sh' : '`npm run lab:setup`';
	return `--profile ${profile} runs on a ${profile} lab, and this machine's lab is "${lab.profile}": run it on ${setUp} (\`npm run lab:status\` shows what is missing)`;
}

/** Removes what earlier chapters created (pods, files), so a chapter runs as a new reader would. */
export async function resetLab(): Promise<void> {
	try {
		await promisify(execFile)(NODE, [RESET], { timeout: 120_000 });
	} catch (error) {
		const { stdout, stderr } = error as { stdout?: string; stderr?: string };
		throw new Error(`lab:reset failed: ${(stderr || stdout || (error as Error).message).trim()}`, { cause: error });
	}
}

/**
 * On a Kubernetes node `lab:reset` deletes the article's objects, but their pods terminate for up
 * to their 30 s grace period after that (`sleep` as PID 1 ignores SIGTERM): a chapter started
 * meanwhile would find two alpine containers. Wait until they are gone, as the chapters do.
 */
export async function resetKubernetesLab(): Promise<void> {
	await resetLab();
	try {
		await promisify(execFile)('kubectl', ['wait', '--for=delete', 'pod', '-l', 'app in (alpine,nginx)', '--timeout=120s'], { timeout: 150_000 });
	} catch (error) {
		const { stdout, stderr } = error as { stdout?: string; stderr?: string };
		throw new Error(`the article's pods did not go away: ${(stderr || stdout || (error as Error).message).trim()}`, { cause: error });
	}
}

/** Kernel, OS and tool versions, as transcripts record them. */
export async function describeLab(): Promise<Record<string, unknown>> {
	const status = await detectLab();
	return { profile: status.profile, os: status.host.os, kernel: status.host.kernel, cgroup: status.host.cgroup, versions: status.versions };
}

/** A state directory for a doc-test gateway on the incus backend: what it makes in Incus is found by it. */
export function labStateDir(): string {
	return mkdtempSync(join(tmpdir(), 'podlab-doctest-state-'));
}

/** Removes everything a doc-test gateway with `stateDir` made in Incus (each chapter's reader got a lab). */
export async function removeLabsOf(stateDir: string): Promise<void> {
	const api = localApi();
	try {
		await removeInstancesOf(api, [stateDir]);
	} finally {
		api.close();
	}
}
