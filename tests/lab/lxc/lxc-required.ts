/**
 * When the LXC lab tests run: as root, on a host prepared by `npm run lab:setup` (a lab base). Like
 * the podman lab tests they skip with a reason elsewhere, and fail under CI=true or REQUIRE_LAB=1.
 */
import { stat } from 'node:fs/promises';
import { run } from '../../../lab/lib/exec.ts';
import { BASE_DIR } from '../../../lab/lxc/paths.ts';
import { ensurePoolMounted } from '../../../lab/lxc/pool.ts';
import { isRoot } from '../lab-required.ts';

export async function lxcLabProblem(): Promise<string | null> {
	if (!isRoot) return 'needs root (LXC labs are started by root)';
	if ((await run('lxc-start', ['--version'])).spawnError) return 'LXC is not installed; run `npm run lab:setup` as root';
	await ensurePoolMounted().catch(() => {});
	if (!(await stat(`${BASE_DIR}/usr/bin/podman`).then(() => true, () => false))) return 'there is no lab base; run `npm run lab:setup` as root';
	return null;
}
