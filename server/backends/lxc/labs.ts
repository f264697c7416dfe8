/**
 * podlab's LXC labs on this host: making one from the base (a btrfs snapshot, its own config with
 * its own id range and limits, started and booted), running a command in one, and removing one
 * with everything in it. Knows nothing of readers beyond an owner label kept beside the lab, so
 * that a restarted gateway finds every reader's lab again.
 *
 * Labs are named `podlab-lab-NN`, NN being the slot that also fixes the lab's host id range.
 */
import { mkdir, readdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, succeeded, describeFailure, type RunResult } from '../../../lab/lib/exec.ts';
import { LAB_SLOTS } from '../../../lab/lxc/id-ranges.ts';
import { labDir, renderLabConfig, type LabLimits } from '../../../lab/lxc/lab-config.ts';
import { ensureLxcfs } from '../../../lab/lxc/lxcfs.ts';
import { BASE_DIR, KERNEL_LOG_DIR, KERNEL_LOG_DRAINED_FILE, LABS_DIR } from '../../../lab/lxc/paths.ts';
import { startLabLog } from './kmsg-router.ts';
import { deleteSubvolume, ensurePoolMounted, isSubvolume, limitExclusiveBytes, snapshot, subvolumeUsage } from '../../../lab/lxc/pool.ts';

const LAB_NAME = /^podlab-lab-(\d{2})$/;
const OWNER_FILE = 'podlab-owner';
/** The PATH of every command podlab runs in a lab (lxc-attach --clear-env starts with none). */
export const LAB_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const BOOT_TIMEOUT_MS = 15_000;

export interface LabInfo {
	name: string;
	slot: number;
	running: boolean;
	/** The reader (student) label the lab belongs to; null for a lab of the warm pool. */
	owner: string | null;
}

export interface LabUsage {
	memoryBytes: number | null;
	diskExclusiveBytes: number | null;
}

/** The lab of slot `slot`. */
export function labName(slot: number): string {
	if (!Number.isInteger(slot) || slot < 1 || slot >= LAB_SLOTS) throw new Error(`lxc: lab slot ${slot} is outside 1..${LAB_SLOTS - 1}`);
	return `podlab-lab-${String(slot).padStart(2, '0')}`;
}

/** The slot of lab `name`, or null for a name podlab does not make. */
export function slotOf(name: string): number | null {
	const match = LAB_NAME.exec(name);
	const slot = match ? Number(match[1]) : NaN;
	return slot >= 1 && slot < LAB_SLOTS ? slot : null;
}

/** The host cgroup (v1, one controller) of a lab's processes. */
const CGROUP_ROOT = '/sys/fs/cgroup';

export function labCgroup(controller: string, name: string): string {
	return `${CGROUP_ROOT}/${controller}/lxc.payload.${name}`;
}

/**
 * Removes the cgroups a lab left behind when it was not stopped cleanly (a killed gateway, a host
 * crash mid-stop): LXC would otherwise start the next lab of that name in `lxc.payload.<name>-1`,
 * where neither its limits' readers nor the kernel-log router look for it. Only empty cgroups can be
 * removed (rmdir, children first), so a running lab's are never touched.
 * @throws {LxcLabError} when one is still in use.
 */
async function removeLeftoverCgroups(name: string): Promise<void> {
	const leftover = new RegExp(`^lxc\\.(payload|monitor)\\.${name.replaceAll('.', '\\.')}(-\\d+)?$`);
	const controllers = await readdir(CGROUP_ROOT).catch(() => [] as string[]);
	for (const controller of controllers) {
		const entries = await readdir(join(CGROUP_ROOT, controller)).catch(() => [] as string[]);
		for (const entry of entries.filter((candidate) => leftover.test(candidate))) await rmdirTree(join(CGROUP_ROOT, controller, entry));
	}
	const still = await stat(labCgroup('memory', name)).then(() => true, () => false);
	if (still) throw new LxcLabError(`lxc: ${name}'s cgroup ${labCgroup('memory', name)} is still in use by processes of an earlier lab of that name`);
}

async function rmdirTree(dir: string): Promise<void> {
	const children = await readdir(dir, { withFileTypes: true }).catch(() => []);
	for (const child of children) if (child.isDirectory()) await rmdirTree(join(dir, child.name));
	await rmdir(dir).catch(() => {});
}

/** A lab could not be made, started or found; the message says why and what to do. */
export class LxcLabError extends Error {
	readonly code = 'LAB_ERR_LXC';
}

export class Labs {
	readonly #limits: LabLimits;

	constructor(limits: LabLimits) {
		this.#limits = limits;
	}

	/** Mounts the pool (after a host reboot) and checks there is a base. @throws {LxcLabError} */
	async prepare(): Promise<void> {
		await ensurePoolMounted();
		if (!(await isSubvolume(BASE_DIR))) throw new LxcLabError('lxc: there is no lab base yet: run `npm run lab:setup` as root');
		await mkdir(KERNEL_LOG_DIR, { recursive: true });
		// Bind-mounted into every lab: it must exist before the first lab starts.
		await writeFile(KERNEL_LOG_DRAINED_FILE, '0\n', { flag: 'a' });
		await ensureLxcfs();
	}

	/** Every lab podlab made, running or not. */
	async list(): Promise<LabInfo[]> {
		const names = await readdir(LABS_DIR).catch(() => [] as string[]);
		const labs = await Promise.all(
			names
				.filter((name) => slotOf(name) !== null)
				.map(async (name) => ({ name, slot: slotOf(name)!, running: (await this.initPid(name)) !== null, owner: await this.owner(name) })),
		);
		return labs.sort((a, b) => a.slot - b.slot);
	}

	/** A free slot: none of `taken` and no lab directory. */
	async freeSlot(taken: ReadonlySet<number> = new Set()): Promise<number> {
		const used = new Set([...taken, ...(await this.list()).map((lab) => lab.slot)]);
		for (let slot = 1; slot < LAB_SLOTS; slot++) if (!used.has(slot)) return slot;
		throw new LxcLabError(`lxc: all ${LAB_SLOTS - 1} lab slots are in use`);
	}

	/**
	 * Makes lab `slot` from the base and starts it; resolves once it has booted.
	 * @throws {LxcLabError} after removing what it made.
	 */
	async create(slot: number): Promise<string> {
		const name = labName(slot);
		const dir = labDir(name);
		try {
			await mkdir(dir, { recursive: true });
			await snapshot(BASE_DIR, join(dir, 'rootfs'));
			await limitExclusiveBytes(join(dir, 'rootfs'), this.#limits.diskBytes);
			await mkdir(join(KERNEL_LOG_DIR, name), { recursive: true });
			startLabLog(name);
			await writeFile(join(dir, 'config'), renderLabConfig({ name, slot, limits: this.#limits }));
			await removeLeftoverCgroups(name);
			await this.start(name);
			return name;
		} catch (cause) {
			await this.destroy(name);
			throw cause instanceof LxcLabError ? cause : new LxcLabError(`lxc: could not make lab ${name}: ${(cause as Error).message}`, { cause });
		}
	}

	/** Starts a stopped lab (after a host reboot) and waits for it to boot. */
	async start(name: string): Promise<void> {
		// A lab sees its own memory and uptime only if lxcfs serves when it starts; on a host without
		// systemd nothing else starts it again after a reboot, a crash or a kill.
		await ensureLxcfs();
		// lxc-start itself only says that it failed; its log says why (beside the lab, errors only,
		// emptied for each start so that it holds this start's lines and does not grow).
		const log = join(labDir(name), 'start.log');
		await writeFile(log, '');
		const started = await run('lxc-start', ['-P', LABS_DIR, '-n', name, '--logfile', log, '--logpriority', 'ERROR'], { timeoutMs: 30_000 });
		if (!succeeded(started)) {
			const why = startFailureCause(await readFile(log, 'utf8').catch(() => ''));
			throw new LxcLabError(`lxc: ${name} did not start: ${describeFailure('lxc-start', started)}${why ? `; lxc's log: ${why}` : ''}`);
		}
		const deadline = performance.now() + BOOT_TIMEOUT_MS;
		while (performance.now() < deadline) {
			const pid = await this.initPid(name);
			// Read through the host's view of the lab's root: no process in the lab is needed to ask.
			if (pid !== null && (await stat(`/proc/${pid}/root/run/podlab-ready`).then(() => true, () => false))) return;
			await new Promise((resolve) => setTimeout(resolve, 20));
		}
		throw new LxcLabError(`lxc: ${name} did not boot within ${BOOT_TIMEOUT_MS / 1000}s`);
	}

	/** Stops lab `name` at once and deletes it with everything in it. Idempotent. */
	async destroy(name: string): Promise<void> {
		if (slotOf(name) === null && name !== 'podlab-base-builder') throw new Error(`lxc: ${name} is not a podlab lab`);
		await run('lxc-stop', ['-P', LABS_DIR, '-n', name, '--kill', '--nolock'], { timeoutMs: 30_000 });
		await removeLeftoverCgroups(name).catch(() => {});
		await deleteSubvolume(join(labDir(name), 'rootfs'));
		await rm(labDir(name), { recursive: true, force: true });
		await rm(join(KERNEL_LOG_DIR, name), { recursive: true, force: true });
	}

	/** PID (on the host) of the lab's init, or null when it is not running. */
	async initPid(name: string): Promise<number | null> {
		const result = await run('lxc-info', ['-P', LABS_DIR, '-n', name, '-p', '-H'], { timeoutMs: 10_000 });
		const pid = Number(result.stdout.trim());
		return succeeded(result) && Number.isInteger(pid) && pid > 0 ? pid : null;
	}

	async owner(name: string): Promise<string | null> {
		return (await readFile(join(labDir(name), OWNER_FILE), 'utf8').catch(() => '')).trim() || null;
	}

	/** Gives lab `name` to `owner` (kept beside the lab, outside its root). */
	async setOwner(name: string, owner: string): Promise<void> {
		await writeFile(join(labDir(name), OWNER_FILE), `${owner}\n`);
	}

	/**
	 * The arguments of `lxc-attach` running `command` in lab `name` with only `env` (none of the
	 * gateway's environment crosses into a lab).
	 */
	attachArgs(name: string, command: readonly string[], env: Record<string, string> = {}): string[] {
		const vars = { PATH: LAB_PATH, HOME: '/root', USER: 'root', LOGNAME: 'root', LANG: 'C.UTF-8', ...env };
		return ['-P', LABS_DIR, '-n', name, '--clear-env', ...Object.entries(vars).flatMap(([key, value]) => ['--set-var', `${key}=${value}`]), '--', ...command];
	}

	/** Runs `command` in lab `name`, as root there, without a terminal. */
	exec(name: string, command: readonly string[], options: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<RunResult> {
		return run('lxc-attach', this.attachArgs(name, command, options.env), { input: options.input, timeoutMs: options.timeoutMs ?? 30_000, env: { PATH: process.env.PATH ?? LAB_PATH } });
	}

	/** Memory in use by the lab's cgroup and what its root holds beyond the base. */
	async usage(name: string): Promise<LabUsage> {
		const memory = await readFile(`${labCgroup('memory', name)}/memory.usage_in_bytes`, 'utf8').then(Number, () => null);
		const disk = await subvolumeUsage(join(labDir(name), 'rootfs'));
		return { memoryBytes: memory, diskExclusiveBytes: disk?.exclusiveBytes ?? null };
	}
}

/**
 * What lxc-start's error log says went wrong: its first few errors, without lxc's prefix. The cause
 * comes first; what follows it (the container's state, "failed to start", advice to read this very
 * log) is the same for every failure and is left out.
 */
export function startFailureCause(log: string): string {
	const AFTERMATH = /tools\/lxc_start\.c|wait_on_daemonized_start/;
	return log
		.split('\n')
		.filter((line) => line.trim() && !AFTERMATH.test(line))
		.map((line) => line.replace(/^lxc-start \S+ [\d.]+ ERROR\s+/, ''))
		.slice(0, 3)
		.join(' | ')
		.slice(0, 600);
}
