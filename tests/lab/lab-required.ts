/**
 * When tests that need this machine's privileges or lab run — the one rule for all of them (podman,
 * cgroups, network namespaces for the ssh lab hosts): they skip with a one-line reason for a normal
 * user or on a machine without the lab, except under CI=true or REQUIRE_LAB=1, where they must run:
 * there a missing requirement fails, naming what fixes it.
 *
 * A test file finds its `problem` (rootProblem, podmanLabProblem, labHostsProblem in
 * tests/helpers/lab-hosts.ts), skips on `skipReason(problem)` and calls `assertLabUsable(problem)`
 * in its beforeAll.
 */
import { fileURLToPath } from 'node:url';
import { detectLab } from '../../lab/status.ts';

/** The checkout's root and the Node 22 that npm scripts use (the system node may be older). */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const NODE = `${REPO_ROOT}node_modules/.bin/node`;

export const labRequired = process.env.CI === 'true' || process.env.REQUIRE_LAB === '1';
export const isRoot = process.getuid?.() === 0;

/** Why tests needing root for `what` (e.g. "cgroups") cannot run here, or null when they can. */
export function rootProblem(what: string): string | null {
	return isRoot ? null : `needs root (${what})`;
}

/**
 * Why tests needing the podman lab cannot run here, or null when they can. Under CI/REQUIRE_LAB
 * the reason is not a skip: `assertLabUsable` turns it into a failure.
 */
export async function podmanLabProblem(): Promise<string | null> {
	const root = rootProblem('the lab is rootful podman');
	if (root) return root;
	const status = await detectLab();
	if (status.profile !== 'podman') return `the lab profile here is "${status.profile}", not podman; run \`npm run lab:setup\` as root`;
	if (!status.ready) {
		const failed = status.checks.filter((check) => !check.ok).map((check) => `${check.label}${check.detail ? ` (${check.detail})` : ''}`);
		return `the podman lab is not set up (${failed.join('; ')}); run \`npm run lab:setup\` as root`;
	}
	return null;
}

/** Skip reason for a describe block: the problem, unless the lab is required (then the tests run and fail). */
export function skipReason(problem: string | null): string | null {
	return problem !== null && !labRequired ? problem : null;
}

/** Throws with `problem` when the lab is required but unusable (call in beforeAll). */
export function assertLabUsable(problem: string | null): void {
	if (problem !== null) throw new Error(`Lab required (CI=true or REQUIRE_LAB=1) but unusable: ${problem}`);
}
