/**
 * What the doc-test runner asks of the lab: a clean slate before each chapter (`lab:reset`) and a
 * description for transcripts (`lab:status`).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { detectLab } from '../../lab/status.ts';
import { DEFAULT_LAB_LIMITS } from '../../lab/lxc/lab-config.ts';
import { Labs } from '../../server/backends/lxc/labs.ts';
import { NODE } from '../helpers/gateway.ts';

const RESET = fileURLToPath(new URL('../../lab/reset.ts', import.meta.url));

/** Removes what earlier chapters created (pods, files), so a chapter runs as a new reader would. */
export async function resetLab(): Promise<void> {
	try {
		await promisify(execFile)(NODE, [RESET], { timeout: 120_000 });
	} catch (error) {
		const { stdout, stderr } = error as { stdout?: string; stderr?: string };
		throw new Error(`lab:reset failed: ${(stderr || stdout || (error as Error).message).trim()}`, { cause: error });
	}
}

/** Kernel, OS and tool versions, as transcripts record them. */
export async function describeLab(): Promise<Record<string, unknown>> {
	const status = await detectLab();
	return { profile: status.profile, os: status.host.os, kernel: status.host.kernel, cgroup: status.host.cgroup, versions: status.versions };
}

/** The LXC labs on this host (with `--backend lxc`, each chapter's reader gets one). */
export async function labNames(): Promise<string[]> {
	return (await new Labs(DEFAULT_LAB_LIMITS).list()).map((lab) => lab.name);
}

/** Removes every LXC lab not in `kept`: the ones the chapters' readers were given. */
export async function removeLabsExcept(kept: readonly string[]): Promise<void> {
	const labs = new Labs(DEFAULT_LAB_LIMITS);
	for (const name of await labNames()) if (!kept.includes(name)) await labs.destroy(name);
}
