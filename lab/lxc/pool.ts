/**
 * The btrfs pool the labs live in: a sparse image file, loop-mounted at POOL_DIR. The base is a
 * read-only subvolume; a lab's root is a writable snapshot of it, made in milliseconds whatever
 * the base's size, sharing every block the lab does not change. A quota group on the snapshot
 * bounds what the lab may write.
 *
 * The mount does not survive a reboot of the host: `ensurePoolMounted` (run by lab:setup and by the
 * gateway at start) mounts it again.
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { SetupError } from '../lib/cli.ts';
import { describeFailure, run, succeeded } from '../lib/exec.ts';
import { POOL_DIR, POOL_IMAGE } from './paths.ts';

/** Size of the sparse pool image: space is used only as labs write (freed space is punched back). */
export const DEFAULT_POOL_BYTES = 64 * 1024 * 1024 * 1024;

const MOUNT_OPTIONS = 'loop,noatime,discard=async';

/** True when /proc/mounts has a btrfs mounted at `dir`. */
export function isBtrfsMountedAt(mounts: string, dir: string): boolean {
	return mounts.split('\n').some((line) => {
		const [, mountPoint, fsType] = line.split(' ');
		return mountPoint === dir && fsType === 'btrfs';
	});
}

export async function poolMounted(): Promise<boolean> {
	return isBtrfsMountedAt(await readFile('/proc/mounts', 'utf8').catch(() => ''), POOL_DIR);
}

export async function poolImageExists(): Promise<boolean> {
	return stat(POOL_IMAGE).then(() => true, () => false);
}

function poolError(what: string, command: string, result: Parameters<typeof describeFailure>[1]): SetupError {
	return new SetupError(
		'LAB_SETUP_HOST_SETTINGS',
		`${what}: ${describeFailure(command, result)}`,
		'check that this kernel has btrfs and loop devices (`grep btrfs /proc/filesystems`, `ls /dev/loop-control`), then rerun `npm run lab:setup`',
	);
}

/** Creates the pool image (once) and mounts it with quotas on; returns what it did. */
export async function ensurePool(sizeBytes = DEFAULT_POOL_BYTES, log?: (chunk: Buffer) => void): Promise<string> {
	const done: string[] = [];
	await mkdir(POOL_DIR, { recursive: true });
	if (!(await poolImageExists())) {
		const created = await run('truncate', ['-s', String(sizeBytes), POOL_IMAGE]);
		if (!succeeded(created)) throw poolError('could not create the lab pool image', 'truncate', created);
		const formatted = await run('mkfs.btrfs', ['-q', '-L', 'podlab-labs', POOL_IMAGE], { timeoutMs: 60_000, onOutput: log });
		if (!succeeded(formatted)) throw poolError('could not format the lab pool', 'mkfs.btrfs', formatted);
		done.push(`created ${Math.round(sizeBytes / 2 ** 30)} GiB sparse image`);
	}
	done.push(await ensurePoolMounted());
	const quota = await run('btrfs', ['quota', 'enable', POOL_DIR], { timeoutMs: 60_000 });
	if (!succeeded(quota)) throw poolError('could not turn on quotas in the lab pool', 'btrfs quota enable', quota);
	await keepQuotasExact();
	return done.join(', ');
}

/**
 * Mounts the existing pool image if it is not mounted, and keeps its quota accounting exact (see
 * `keepQuotasExact`); returns "mounted" or "already mounted".
 */
export async function ensurePoolMounted(): Promise<string> {
	let outcome = 'already mounted';
	if (!(await poolMounted())) {
		await mkdir(POOL_DIR, { recursive: true });
		const mounted = await run('mount', ['-t', 'btrfs', '-o', MOUNT_OPTIONS, POOL_IMAGE, POOL_DIR], { timeoutMs: 60_000 });
		if (!succeeded(mounted)) throw poolError(`could not mount the lab pool ${POOL_IMAGE}`, 'mount', mounted);
		outcome = 'mounted';
	}
	await keepQuotasExact();
	return outcome;
}

/**
 * Deleting a snapshot deeper than `drop_subtree_threshold` levels (3 by default) makes btrfs give up
 * exact quota accounting for the whole filesystem ("qgroup data inconsistent"), and then no lab's
 * disk limit holds. podlab deletes labs, so it asks for exact accounting at every depth (a setting
 * of the mount, lost on unmount) and rescans once if the accounting was already lost.
 */
async function keepQuotasExact(): Promise<void> {
	const shown = await run('btrfs', ['filesystem', 'show', POOL_DIR], { timeoutMs: 10_000 });
	const uuid = /uuid: ([0-9a-f-]{36})/.exec(shown.stdout)?.[1];
	if (!uuid) return;
	const qgroups = `/sys/fs/btrfs/${uuid}/qgroups`;
	await writeFile(`${qgroups}/drop_subtree_threshold`, '8').catch(() => {});
	const inconsistent = (await readFile(`${qgroups}/inconsistent`, 'utf8').catch(() => '0')).trim() === '1';
	if (inconsistent) await run('btrfs', ['quota', 'rescan', '-w', POOL_DIR], { timeoutMs: 300_000 });
}

export async function isSubvolume(path: string): Promise<boolean> {
	// The root directory of every btrfs subvolume has inode number 256.
	return stat(path).then((info) => info.ino === 256, () => false);
}

/** Snapshots subvolume `source` at `target` (`readOnly` for the base). */
export async function snapshot(source: string, target: string, options: { readOnly?: boolean } = {}): Promise<void> {
	const args = ['subvolume', 'snapshot', ...(options.readOnly ? ['-r'] : []), source, target];
	const result = await run('btrfs', args, { timeoutMs: 30_000 });
	if (!succeeded(result)) throw new Error(describeFailure('btrfs subvolume snapshot', result));
}

export async function createSubvolume(path: string): Promise<void> {
	const result = await run('btrfs', ['subvolume', 'create', path], { timeoutMs: 30_000 });
	if (!succeeded(result)) throw new Error(describeFailure('btrfs subvolume create', result));
}

/**
 * Deletes subvolume `path` and any subvolume a lab made inside it (a lab's root may create
 * subvolumes: btrfs lets any writer do so), deepest first. Missing: nothing to do.
 */
export async function deleteSubvolume(path: string): Promise<void> {
	if (!(await isSubvolume(path))) return;
	const nested = await run('btrfs', ['subvolume', 'list', '-o', path], { timeoutMs: 30_000 });
	const inner = nested.stdout
		.split('\n')
		.map((line) => / path (.+)$/.exec(line)?.[1])
		.filter((relative): relative is string => relative !== undefined)
		.map((relative) => `${POOL_DIR}/${relative}`)
		.filter((inside) => inside.startsWith(`${path}/`))
		.sort((a, b) => b.length - a.length);
	for (const inside of inner) await deleteSubvolume(inside);
	// A read-only snapshot (the base) must be made writable before it can go.
	await run('btrfs', ['property', 'set', '-ts', path, 'ro', 'false'], { timeoutMs: 30_000 });
	const result = await run('btrfs', ['subvolume', 'delete', path], { timeoutMs: 60_000 });
	if (!succeeded(result)) throw new Error(describeFailure('btrfs subvolume delete', result));
}

/** Bounds what subvolume `path` may hold beyond what it shares (exclusive bytes). */
export async function limitExclusiveBytes(path: string, bytes: number): Promise<void> {
	const result = await run('btrfs', ['qgroup', 'limit', '-e', String(bytes), path], { timeoutMs: 30_000 });
	if (!succeeded(result)) throw new Error(describeFailure('btrfs qgroup limit', result));
}

/** Parses `btrfs qgroup show --raw -f PATH`: referenced and exclusive bytes of the path's own qgroup. */
export function parseQgroupShow(text: string): { referencedBytes: number; exclusiveBytes: number } | null {
	const row = text.split('\n').find((line) => /^0\/\d+\s+\d+\s+\d+/.test(line.trim()));
	const fields = row?.trim().split(/\s+/);
	if (!fields) return null;
	return { referencedBytes: Number(fields[1]), exclusiveBytes: Number(fields[2]) };
}

/** Commits the pool's transaction, so that quota groups count what was just written. */
export async function syncPool(): Promise<void> {
	await run('btrfs', ['filesystem', 'sync', POOL_DIR], { timeoutMs: 60_000 });
}

/** Disk used by subvolume `path`, from its quota group (as of the last commit); null when quotas are not ready. */
export async function subvolumeUsage(path: string): Promise<{ referencedBytes: number; exclusiveBytes: number } | null> {
	const result = await run('btrfs', ['qgroup', 'show', '--raw', '-f', path], { timeoutMs: 10_000 });
	return succeeded(result) ? parseQgroupShow(result.stdout) : null;
}
