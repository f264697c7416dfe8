/**
 * Containment of terminals in cgroups, so a fork bomb or a memory hog in one reader's shell cannot take
 * down the gateway or the other terminals.
 *
 * Layout: a directory `podlab-<gateway pid>` is created beside or under the gateway's own cgroup, and one
 * child per terminal in it, with memory and pids limits. cgroup v1 (memory, pids, optionally freezer)
 * and v2 (memory, pids) are supported; where neither is writable the gateway runs without limits.
 */
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../../process-tree.ts';

export interface CgroupLimits {
	memoryBytes: number;
	pids: number;
}

/** One terminal's cgroup. */
export interface TerminalCgroup {
	/** The `cgroup.procs` files a process writes its pid into to join (one per v1 hierarchy). */
	readonly procsFiles: string[];
	/** Directory holding the memory controller's files (for `memory.limit_in_bytes` or `memory.max`). */
	readonly memoryDir: string;
	/** Pids of the processes in it. */
	pids(): Promise<number[]>;
	/** Kills every process in it and waits until it is empty (bounded). */
	killAll(): Promise<void>;
	/** Removes the directories (after {@link killAll}). */
	remove(): Promise<void>;
}

export type CgroupVersion = 'v1' | 'v2';

interface Mount {
	mountPoint: string;
	root: string;
	fsType: string;
	superOptions: string[];
}

/** Creates terminal cgroups under one gateway-owned parent. */
export class CgroupManager {
	readonly version: CgroupVersion;
	readonly #limits: CgroupLimits;
	/** Parent directory per controller ("memory", "pids", "freezer" on v1; "unified" on v2). */
	readonly #parents: Map<string, string>;

	private constructor(version: CgroupVersion, parents: Map<string, string>, limits: CgroupLimits) {
		this.version = version;
		this.#parents = parents;
		this.#limits = limits;
	}

	/**
	 * Finds writable cgroups and creates the gateway's parent directory.
	 * @throws {Error} with the reason when cgroups cannot be used here.
	 */
	static async open(limits: CgroupLimits): Promise<CgroupManager> {
		const mounts = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
		const membership = parseProcCgroup(await readFile('/proc/self/cgroup', 'utf8'));
		const name = `podlab-${process.pid}`;

		const v1 = (controller: string) => mounts.find((mount) => mount.fsType === 'cgroup' && mount.superOptions.includes(controller));
		const memory = v1('memory');
		const pids = v1('pids');
		if (memory && pids) {
			const parents = new Map<string, string>();
			// Freezer first: a gateway killed while ending a terminal may have left it frozen, and
			// frozen processes cannot die until thawed.
			for (const [controller, mount] of [['freezer', v1('freezer')], ['memory', memory], ['pids', pids]] as const) {
				if (!mount) continue;
				const own = membership.get(controller) ?? '/';
				const base = join(mount.mountPoint, relativeTo(own, mount.root));
				await removeStaleParents(base);
				const parent = join(base, name);
				await mkdir(parent, { recursive: true });
				parents.set(controller, parent);
			}
			return new CgroupManager('v1', parents, limits);
		}

		const unified = mounts.find((mount) => mount.fsType === 'cgroup2');
		if (unified) {
			const own = relativeTo(membership.get('') ?? '/', unified.root);
			// cgroup v2 forbids processes in a cgroup that delegates controllers to children, so the
			// parent goes under the nearest ancestor (often our own parent) that already delegates both.
			for (let path = own; ; path = parentPath(path)) {
				const dir = join(unified.mountPoint, path);
				const delegated = await readFile(join(dir, 'cgroup.subtree_control'), 'utf8').catch(() => '');
				if (/\bmemory\b/.test(delegated) && /\bpids\b/.test(delegated)) {
					await removeStaleParents(dir);
					const parent = join(dir, name);
					await mkdir(parent, { recursive: true });
					await writeFile(join(parent, 'cgroup.subtree_control'), '+memory +pids');
					return new CgroupManager('v2', new Map([['unified', parent]]), limits);
				}
				if (path === '/') break;
			}
			throw new Error('cgroup v2 is mounted but no ancestor of the gateway delegates the memory and pids controllers');
		}
		throw new Error('no writable memory and pids cgroup controllers are mounted');
	}

	/** Creates the cgroup for one terminal, limits set. */
	async create(terminalId: string): Promise<TerminalCgroup> {
		const dirs = new Map<string, string>();
		for (const [controller, parent] of this.#parents) {
			const dir = join(parent, terminalId);
			await mkdir(dir);
			dirs.set(controller, dir);
		}
		if (this.version === 'v1') {
			await writeFile(join(dirs.get('memory')!, 'memory.limit_in_bytes'), String(this.#limits.memoryBytes));
			// Without swap accounting the file does not exist; the plain limit is then the whole limit.
			await writeFile(join(dirs.get('memory')!, 'memory.memsw.limit_in_bytes'), String(this.#limits.memoryBytes)).catch(() => {});
			await writeFile(join(dirs.get('pids')!, 'pids.max'), String(this.#limits.pids));
			return new V1TerminalCgroup(dirs);
		}
		const dir = dirs.get('unified')!;
		await writeFile(join(dir, 'memory.max'), String(this.#limits.memoryBytes));
		await writeFile(join(dir, 'memory.swap.max'), '0').catch(() => {});
		await writeFile(join(dir, 'pids.max'), String(this.#limits.pids));
		return new V2TerminalCgroup(dir);
	}

	/** Removes the gateway's parent directories (terminals must be removed first). */
	async close(): Promise<void> {
		for (const parent of this.#parents.values()) await rmdirRetry(parent);
	}
}

class V1TerminalCgroup implements TerminalCgroup {
	readonly #dirs: Map<string, string>;
	readonly procsFiles: string[];
	readonly memoryDir: string;

	constructor(dirs: Map<string, string>) {
		this.#dirs = dirs;
		this.procsFiles = [...dirs.values()].map((dir) => join(dir, 'cgroup.procs'));
		this.memoryDir = dirs.get('memory')!;
	}

	pids(): Promise<number[]> {
		return readPids(join(this.memoryDir, 'cgroup.procs'));
	}

	async killAll(): Promise<void> {
		const freezer = this.#dirs.get('freezer');
		if (freezer) {
			// Freezing first stops a fork bomb from refilling the slots that the kill frees.
			const state = join(freezer, 'freezer.state');
			await writeFile(state, 'FROZEN').catch(() => {});
			try {
				for (let i = 0; i < 50 && (await readFile(state, 'utf8').catch(() => 'FROZEN')).trim() !== 'FROZEN'; i++) await sleep(10);
				killEach(await this.pids());
			} finally {
				// Killed tasks die only once thawed; a gateway that stops here is cleaned up at its next start.
				await writeFile(state, 'THAWED').catch(() => {});
			}
		}
		await killUntilEmpty(() => this.pids());
	}

	async remove(): Promise<void> {
		for (const dir of this.#dirs.values()) await rmdirRetry(dir);
	}
}

class V2TerminalCgroup implements TerminalCgroup {
	readonly #dir: string;
	readonly procsFiles: string[];
	readonly memoryDir: string;

	constructor(dir: string) {
		this.#dir = dir;
		this.procsFiles = [join(dir, 'cgroup.procs')];
		this.memoryDir = dir;
	}

	pids(): Promise<number[]> {
		return readPids(join(this.#dir, 'cgroup.procs'));
	}

	async killAll(): Promise<void> {
		// cgroup.kill (Linux 5.14+) kills the whole cgroup atomically; older kernels fall back to a loop.
		await writeFile(join(this.#dir, 'cgroup.kill'), '1').catch(async () => {
			await writeFile(join(this.#dir, 'cgroup.freeze'), '1').catch(() => {});
			killEach(await this.pids());
			await writeFile(join(this.#dir, 'cgroup.freeze'), '0').catch(() => {});
		});
		await killUntilEmpty(() => this.pids());
	}

	async remove(): Promise<void> {
		await rmdirRetry(this.#dir);
	}
}

async function readPids(procsFile: string): Promise<number[]> {
	const text = await readFile(procsFile, 'utf8').catch(() => '');
	return text.split('\n').filter(Boolean).map(Number);
}

function killEach(pids: number[]): void {
	for (const pid of pids) {
		try {
			process.kill(pid, 'SIGKILL');
		} catch {
			// Gone already.
		}
	}
}

async function killUntilEmpty(list: () => Promise<number[]>): Promise<void> {
	for (let attempt = 0; attempt < 100; attempt++) {
		const pids = await list();
		if (pids.length === 0) return;
		killEach(pids);
		await sleep(10);
	}
}

async function rmdirRetry(dir: string): Promise<void> {
	for (let attempt = 0; ; attempt++) {
		try {
			await rmdir(dir);
			return;
		} catch (error) {
			const code = (error as NodeJS.ErrnoException).code;
			if (code === 'ENOENT') return;
			// The kernel may still be tearing down exited tasks for a moment.
			if (code !== 'EBUSY' || attempt >= 50) throw error;
			await sleep(20);
		}
	}
}

/** Removes `podlab-<pid>` directories left by gateways that are no longer running (after a crash). */
async function removeStaleParents(base: string): Promise<void> {
	const entries = await readdir(base, { withFileTypes: true }).catch(() => []);
	for (const entry of entries) {
		const match = /^podlab-(\d+)$/.exec(entry.name);
		if (!entry.isDirectory() || !match || isAlive(Number(match[1]))) continue;
		const parent = join(base, entry.name);
		for (const child of await readdir(parent, { withFileTypes: true }).catch(() => [])) {
			if (!child.isDirectory()) continue;
			const dir = join(parent, child.name);
			await writeFile(join(dir, 'freezer.state'), 'THAWED').catch(() => {});
			await killUntilEmpty(() => readPids(join(dir, 'cgroup.procs')));
			await rmdirRetry(dir).catch(() => {});
		}
		await rmdirRetry(parent).catch(() => {});
	}
}

export function parseMountInfo(text: string): Mount[] {
	return text
		.split('\n')
		.filter(Boolean)
		.map((line) => {
			const [before, after = ''] = line.split(' - ');
			const fields = before!.split(' ');
			const [fsType = '', , superOptions = ''] = after.split(' ');
			return { root: unescapeMount(fields[3] ?? '/'), mountPoint: unescapeMount(fields[4] ?? ''), fsType, superOptions: superOptions.split(',') };
		});
}

/** /proc/self/cgroup → controller → path ("" is the v2 hierarchy). */
export function parseProcCgroup(text: string): Map<string, string> {
	const membership = new Map<string, string>();
	for (const line of text.split('\n').filter(Boolean)) {
		const [, controllers = '', ...path] = line.split(':');
		for (const controller of controllers.split(',')) membership.set(controller, path.join(':'));
	}
	return membership;
}

function unescapeMount(value: string): string {
	return value.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** The part of `path` below the mount's `root` (a cgroup namespace may hide the upper part). */
function relativeTo(path: string, root: string): string {
	if (root === '/' || !path.startsWith(root)) return path;
	return path.slice(root.length) || '/';
}

function parentPath(path: string): string {
	const index = path.lastIndexOf('/');
	return index <= 0 ? '/' : path.slice(0, index);
}
