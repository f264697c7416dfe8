/**
 * Whether this host can give readers labs of their own (the `lxc` backend), for `npm run lab:status`
 * and `GET /api/lab`: what is missing, and how many labs run. Never throws; quick (no lab is asked).
 */
import { readdir, readFile } from 'node:fs/promises';
import { z } from 'zod';
import { run } from '../lib/exec.ts';
import { findMissingPackages } from '../lib/packages.ts';
import { currentBaseRecipe } from './base.ts';
import { neededRange, planIdRanges } from './id-ranges.ts';
import { lxcfsState } from './lxcfs.ts';
import { LAB_COMMON_CONF, LABS_DIR } from './paths.ts';
import { poolImageExists, poolMounted } from './pool.ts';
import { LXC_PACKAGES } from './setup-steps.ts';

export const lxcStatusSchema = z.object({
	/** True when labs can be made now (the gateway can use the lxc backend). */
	available: z.boolean(),
	/** podlab labs running on this host (readers' and ready ones). */
	running: z.number().int(),
	/** What is missing, in plain words; empty when available. */
	missing: z.array(z.string()),
	/** Whether labs see their own memory and uptime (lab/lxc/lxcfs.ts); optional, never "missing". */
	lxcfs: z.enum(['running', 'not-installed', 'not-running']),
});
export type LxcStatus = z.infer<typeof lxcStatusSchema>;

const SETUP = 'run `npm run lab:setup` as root';

export async function detectLxcLabs(timeoutMs = 800): Promise<LxcStatus> {
	const missing: string[] = [];
	if (process.getuid?.() !== 0) return { available: false, running: 0, missing: ['root (labs are started by root)'], lxcfs: 'not-running' };
	const [packages, subuid, subgid, image, mounted, base, common, lxcfs] = await Promise.all([
		findMissingPackages(LXC_PACKAGES.map((pkg) => pkg.name), timeoutMs),
		readFile('/etc/subuid', 'utf8').catch(() => ''),
		readFile('/etc/subgid', 'utf8').catch(() => ''),
		poolImageExists(),
		poolMounted(),
		currentBaseRecipe(),
		readFile(LAB_COMMON_CONF).then(() => true, () => false),
		lxcfsState(),
	]);
	if (packages.length > 0) missing.push(`Debian packages ${packages.join(', ')} (${SETUP})`);
	const range = neededRange();
	if (planIdRanges(subuid).action !== 'none' || planIdRanges(subgid).action !== 'none') {
		missing.push(`subordinate ids ${range.start}..${range.start + range.count - 1} for root in /etc/subuid and /etc/subgid (${SETUP})`);
	}
	// The gateway mounts an existing pool itself (after a reboot): only a missing image is missing.
	if (!image) missing.push(`the lab pool (${SETUP})`);
	if (image && mounted && !base) missing.push(`the lab base (${SETUP})`);
	if (!common) missing.push(`the shared LXC settings (${SETUP})`);
	let running = 0;
	if (mounted && packages.length === 0) {
		const names = (await readdir(LABS_DIR).catch(() => [] as string[])).filter((name) => name.startsWith('podlab-lab-'));
		const states = await Promise.all(names.map((name) => run('lxc-info', ['-P', LABS_DIR, '-n', name, '-s', '-H'], { timeoutMs })));
		running = states.filter((state) => state.stdout.trim() === 'RUNNING').length;
	}
	return { available: missing.length === 0, running, missing, lxcfs };
}
