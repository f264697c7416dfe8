/**
 * podlab's labs in Incus, as one gateway sees them: making one from the lab image (Incus's scheduler
 * places it on a member of a cluster), starting, stopping and removing one, and what podlab keeps on
 * each lab as `user.podlab.*` config keys: which gateway made it (gateway-identity.ts), whose it is,
 * when its reader last had a terminal. Incus is the record: a restarted gateway finds every lab
 * again by asking it.
 */
import { randomBytes } from 'node:crypto';
import type { IncusApi, IncusError, RunInInstanceResult } from '../../../lab/incus/incus-api.ts';
import { removeInstance } from '../../../lab/incus/instances.ts';
import type { LabLimits } from '../../../lab/incus/lab-profile.ts';
import { LAB_IMAGE, LAB_PROFILE, LAB_TERMINAL_SOCKET_MOUNT, STORAGE_POOL } from '../../../lab/incus/names.ts';
import { ROLE_KEY } from '../../../lab/incus/status.ts';
import type { GatewayIdentity } from './gateway-identity.ts';
import type { TerminalSockets } from './terminal-sockets.ts';

/** podlab's config keys on a lab. */
export const LAB_KEYS = {
	role: ROLE_KEY,
	gateway: 'user.podlab.gateway',
	stateDir: 'user.podlab.state-dir',
	host: 'user.podlab.host',
	/** The reader (student) label; absent on a lab of the warm pool. */
	owner: 'user.podlab.owner',
	/** When the reader's last terminal ended (epoch ms), for stopping and removing idle labs. */
	lastUsed: 'user.podlab.last-used',
} as const;

/** The PATH of every command podlab runs in a lab. */
export const LAB_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** The environment of every command podlab runs in a lab: none of the gateway's own. */
export const LAB_ENV = { PATH: LAB_PATH, HOME: '/root', USER: 'root', LOGNAME: 'root', LANG: 'C.UTF-8' } as const;

export interface LabInfo {
	name: string;
	running: boolean;
	/** Incus's word for its state: Running, Stopped, Frozen, Error… */
	status: string;
	/** The cluster member it is on ("none" on a standalone server). */
	location: string;
	gateway: string | null;
	owner: string | null;
	lastUsed: number | null;
	stateDir: string | null;
	host: string | null;
	/** The host uid that is root in the lab. */
	rootUid: number | null;
	/** The fingerprint of the lab image it was made from. */
	image: string | null;
}

export interface LabUsage {
	memoryBytes: number | null;
	diskBytes: number | null;
}

interface Instance {
	name: string;
	status: string;
	location: string;
	/** Null for an instance on an offline cluster member: its config is not known then. */
	config: Record<string, string> | null;
}

function infoOf(instance: Instance): LabInfo {
	const config = instance.config ?? {};
	const number = (value: string | undefined) => (value && /^\d+$/.test(value) ? Number(value) : null);
	return {
		name: instance.name,
		running: instance.status === 'Running',
		status: instance.status,
		location: instance.location || 'none',
		gateway: config[LAB_KEYS.gateway] ?? null,
		owner: config[LAB_KEYS.owner] || null,
		lastUsed: number(config[LAB_KEYS.lastUsed]),
		stateDir: config[LAB_KEYS.stateDir] ?? null,
		host: config[LAB_KEYS.host] ?? null,
		rootUid: number(config['volatile.idmap.base']),
		image: config['volatile.base_image'] ?? null,
	};
}

/** A lab could not be made, started or found; the message says why and what to do. */
export class IncusLabError extends Error {
	readonly code = 'LAB_ERR_INCUS';
}

export class Labs {
	readonly api: IncusApi;
	readonly #identity: GatewayIdentity;
	readonly #limits: LabLimits;
	readonly #terminalSockets: TerminalSockets | undefined;

	/** @param terminalSockets the gateway's terminal sockets, with Incus on this machine: new labs mount their directory */
	constructor(api: IncusApi, identity: GatewayIdentity, limits: LabLimits, terminalSockets?: TerminalSockets) {
		this.api = api;
		this.#identity = identity;
		this.#limits = limits;
		this.#terminalSockets = terminalSockets;
	}

	get gateway(): string {
		return this.#identity.id;
	}

	/** Every lab in the project, of any gateway. */
	async list(): Promise<LabInfo[]> {
		const instances = await this.api.get<Instance[]>('/1.0/instances', { query: { recursion: '1' } });
		return instances.filter((instance) => instance.config?.[LAB_KEYS.role] === 'lab').map(infoOf);
	}

	/**
	 * Every instance podlab made in the project (labs and kernel-log readers), with its gateway's
	 * marks; an instance on an offline member has the role "unknown" (its config cannot be read then).
	 */
	async instances(): Promise<Array<LabInfo & { role: string }>> {
		const instances = await this.api.get<Instance[]>('/1.0/instances', { query: { recursion: '1' } });
		return instances
			.filter((instance) => instance.config === null || instance.config[LAB_KEYS.role])
			.map((instance) => ({ ...infoOf(instance), role: instance.config?.[LAB_KEYS.role] ?? 'unknown' }));
	}

	/** Lab `name`, or null when there is none. */
	async get(name: string): Promise<LabInfo | null> {
		try {
			return infoOf(await this.api.get<Instance>(`/1.0/instances/${name}`));
		} catch (error) {
			if ((error as IncusError).notFound) return null;
			throw error;
		}
	}

	/**
	 * Makes a lab from the image (stopped); Incus's scheduler chooses its member. With terminal sockets
	 * (Incus on this machine) it mounts its directory of them (terminal-sockets.ts), where there is one:
	 * on another member of a cluster the directory is not there, and the lab's terminals go over Incus
	 * (as they do with a remote Incus, or when the directory cannot be made).
	 * @throws {IncusError} when Incus refuses (the image missing, no member online, a full pool).
	 */
	async create(): Promise<LabInfo> {
		const name = `lab-${randomBytes(4).toString('hex')}`;
		const limits = this.#limits;
		const terminals = (await this.#terminalSockets?.makeDir(name)) ?? null;
		await this.api.call('POST', '/1.0/instances', {
			body: {
				name,
				type: 'container',
				source: { type: 'image', alias: LAB_IMAGE },
				profiles: [LAB_PROFILE],
				config: {
					[LAB_KEYS.role]: 'lab',
					[LAB_KEYS.gateway]: this.#identity.id,
					[LAB_KEYS.stateDir]: this.#identity.stateDir,
					[LAB_KEYS.host]: this.#identity.host,
					// This gateway's limits (PODLAB_LAB_*), over the profile's defaults.
					'limits.memory': String(limits.memoryBytes),
					'limits.processes': String(limits.pids),
					'limits.cpu.allowance': `${Math.round((limits.cpuShares * 100) / 1024)}%`,
					'limits.kernel.nofile': String(limits.openFiles),
				},
				devices: {
					root: { type: 'disk', path: '/', pool: STORAGE_POOL, size: String(limits.diskBytes) },
					...(terminals && { terminals: { type: 'disk', source: terminals, path: LAB_TERMINAL_SOCKET_MOUNT, readonly: 'true', required: 'false' } }),
				},
			},
			timeoutMs: 120_000,
		});
		const made = await this.get(name);
		if (!made) throw new IncusLabError(`incus: ${name} was made and is gone`);
		return made;
	}

	/** Starts a stopped lab (Incus waits for its init to run, not for it to boot). */
	async start(name: string): Promise<void> {
		await this.api.call('PUT', `/1.0/instances/${name}/state`, { body: { action: 'start', timeout: 30 }, timeoutMs: 60_000 });
	}

	/** Stops a lab: its init is asked to end (its files and podman's state stay), and killed after `graceSeconds`. */
	async stop(name: string, graceSeconds = 5): Promise<void> {
		try {
			await this.api.call('PUT', `/1.0/instances/${name}/state`, { body: { action: 'stop', timeout: graceSeconds }, timeoutMs: (graceSeconds + 30) * 1000 });
		} catch (error) {
			if (/already stopped|not running/i.test((error as Error).message)) return;
			await this.api.call('PUT', `/1.0/instances/${name}/state`, { body: { action: 'stop', force: true }, timeoutMs: 60_000 });
		}
	}

	/** Stops lab `name` at once and deletes it with everything in it. Idempotent. */
	async destroy(name: string): Promise<void> {
		await removeInstance(this.api, name);
		await this.#terminalSockets?.removeDir(name);
	}

	/** Sets podlab's keys on a lab (its owner, its last use). */
	async mark(name: string, keys: Partial<Record<'owner' | 'lastUsed', string | number>>): Promise<void> {
		const config = Object.fromEntries(Object.entries(keys).map(([key, value]) => [LAB_KEYS[key as keyof typeof keys], String(value)]));
		await this.api.call('PATCH', `/1.0/instances/${name}`, { body: { config } });
	}

	/** Host pid of the lab's init, or null when it is not running. */
	async initPid(name: string): Promise<number | null> {
		const state = await this.api.get<{ pid: number; status: string }>(`/1.0/instances/${name}/state`);
		return state.status === 'Running' && state.pid > 0 ? state.pid : null;
	}

	/** Memory the lab's cgroup uses now, and what its root holds. */
	async usage(name: string): Promise<LabUsage> {
		const state = await this.api.get<{ memory?: { usage?: number }; disk?: { root?: { usage?: number } } }>(`/1.0/instances/${name}/state`);
		return { memoryBytes: state.memory?.usage ?? null, diskBytes: state.disk?.root?.usage ?? null };
	}

	/** Runs `command` in lab `name` as root there, without a terminal, with a deadline. */
	run(name: string, command: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<RunInInstanceResult> {
		return this.api.run(name, { command, environment: { ...LAB_ENV }, cwd: '/root', input: options.input, timeoutMs: options.timeoutMs ?? 30_000 });
	}
}
