/**
 * The LXC steps of `npm run lab:setup`: what a host needs so that every reader gets a lab of their
 * own (server/backends/lxc/). They run after the podman lab's steps, whose images the base loads.
 * Each step checks before it acts, so a second run takes seconds.
 */
import { mkdir } from 'node:fs/promises';
import { SetupError } from '../lib/cli.ts';
import { writeFileIfChanged } from '../lib/container-settings.ts';
import { findMissingPackages, installPackages } from '../lib/packages.ts';
import type { Progress } from '../lib/progress.ts';
import { ensureBase } from './base.ts';
import { ensureIdRange } from './id-ranges.ts';
import { renderCommonConfig } from './lab-config.ts';
import { ensureLxcfs, LXCFS_DIR } from './lxcfs.ts';
import { KERNEL_LOG_DIR, LAB_COMMON_CONF, LABS_DIR } from './paths.ts';
import { ensurePool } from './pool.ts';

/** Host packages of the LXC labs. */
export const LXC_PACKAGES: ReadonlyArray<{ name: string; why: string }> = [
	{ name: 'lxc', why: 'runs the labs (unprivileged system containers)' },
	{ name: 'uidmap', why: 'newuidmap/newgidmap, which map each lab\u2019s own id range' },
	{ name: 'btrfs-progs', why: 'the lab pool: a snapshot of the base per lab, with a disk quota' },
	{ name: 'debootstrap', why: 'builds the lab base from Debian\u2019s packages' },
];

/** Optional: the labs work without it, and `free` and `uptime` in them show the host's figures. */
const LXCFS_PACKAGE = 'lxcfs';

/** Number of steps `runLxcSteps` runs (for the progress count). */
export const LXC_STEP_COUNT = 5;

/** Runs the LXC steps of lab:setup, each as one progress step. */
export async function runLxcSteps(progress: Progress, options: { rebuild: boolean; log: (chunk: Buffer) => void }): Promise<void> {
	await progress.step('Labs: Debian packages (lxc, uidmap, btrfs-progs)', async () => {
		const names = LXC_PACKAGES.map((pkg) => pkg.name);
		const missing = await findMissingPackages(names);
		if (missing.length === 0) return `all ${names.length} installed`;
		await installPackages(missing, options.log);
		const still = await findMissingPackages(names);
		if (still.length > 0) {
			throw new SetupError('LAB_SETUP_APT', `still not installed: ${still.join(', ')}`, `run \`apt-get install ${still.join(' ')}\` by hand to see why`);
		}
		return `installed ${missing.join(' ')}`;
	});
	await progress.step('Labs: subordinate ids for root (/etc/subuid, /etc/subgid)', async () => {
		try {
			const [uids, gids] = [await ensureIdRange('/etc/subuid'), await ensureIdRange('/etc/subgid')];
			return `uids ${uids}, gids ${gids}`;
		} catch (cause) {
			throw new SetupError('LAB_SETUP_HOST_SETTINGS', (cause as Error).message, 'give that user another range (see docs/lxc-labs.md), then rerun `npm run lab:setup`', { cause });
		}
	});
	await progress.step('Labs: pool (btrfs image) and shared LXC settings', async () => {
		const pool = await ensurePool(undefined, options.log);
		await mkdir(LABS_DIR, { recursive: true });
		await mkdir(KERNEL_LOG_DIR, { recursive: true });
		const written = await writeFileIfChanged(LAB_COMMON_CONF, renderCommonConfig());
		return `${pool}; ${LAB_COMMON_CONF} ${written ? 'written' : 'unchanged'}`;
	});
	await progress.step('Labs: lxcfs (free and uptime in a lab show the lab\u2019s own)', async () => {
		if ((await findMissingPackages([LXCFS_PACKAGE])).length > 0) {
			await installPackages([LXCFS_PACKAGE], options.log).catch((error: Error) => options.log(Buffer.from(`lxcfs not installed: ${error.message}\n`)));
		}
		const state = await ensureLxcfs();
		// Not a failure: labs work without it (see lab/lxc/lxcfs.ts).
		if (state === 'running') return `running at ${LXCFS_DIR}`;
		return state === 'not-installed' ? 'not installed: labs show the host\u2019s memory and uptime' : `could not start it: labs show the host\u2019s memory and uptime`;
	});
	await progress.step('Labs: base (debootstrap, podman, images)', async () => {
		return ensureBase({ force: options.rebuild, log: options.log, step: (what) => options.log(Buffer.from(`== base: ${what}\n`)) });
	});
}
