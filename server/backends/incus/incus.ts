/**
 * The `incus` backend: every reader (local mode: per reader cookie; class mode: per student) gets a
 * lab of their own, an unprivileged Incus system container with nested rootful podman, made from
 * podlab's image in podlab's project, on this machine or wherever Incus's scheduler places it in a
 * cluster. All of a reader's terminals are shells in that lab.
 *
 * Inside the lab podlab runs what its ssh backend runs on a lab host (server/backends/ssh/): the same
 * host script, rc file and tmux config, installed in the lab's /root/.podlab, and tmux in control
 * mode, read by the same TmuxControlClient; the transport is an Incus exec (exec-pipes.ts). So a
 * shell lives in its tmux session in the lab and survives a restart or a crash of the gateway.
 *
 * What podlab decides, Incus does: labs are made ahead (warm-pool.ts); a lab whose reader has had
 * no terminal for PODLAB_LAB_IDLE_STOP_MS is stopped (its files and podman's state stay on disk) and
 * started again by the reader's next terminal; a stopped lab is removed after PODLAB_LAB_RETAIN_MS
 * (local mode) or with its seat (class mode). Incus being down, a member offline or the image
 * missing make terminals fail with an error that says so; the gateway keeps trying and carries on
 * by itself when Incus is back.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { IncusApi } from '../../../lab/incus/incus-api.ts';
import { IncusError } from '../../../lab/incus/incus-api.ts';
import type { LabLimits } from '../../../lab/incus/lab-profile.ts';
import { LAB_IMAGE } from '../../../lab/incus/names.ts';
import type { SetupState } from '../../../lab/lib/setup-state.ts';
import { detectLab, type LabStatus } from '../../../lab/status.ts';
import { LabError, type ErrorCode } from '../../../src/protocol.ts';
import { cachedLabStatus } from '../../lab-status.ts';
import type { BackendFacts, LabBackend, LabProcess, ProcessEvents, SpawnRequest, StudentSeats } from '../backend.ts';
import { installProblem, installScript } from '../ssh/install.ts';
import { sessionName } from '../ssh/ssh.ts';
import { AttachQueue, TmuxControlClient } from '../tmux/control-mode.ts';
import { hostScriptCommands, TmuxProcess } from '../tmux/tmux-process.ts';
import { execPipes } from './exec-pipes.ts';
import { readGatewayId, type GatewayIdentity } from './gateway-identity.ts';
import { KernelLog, labLogDir } from './kernel-log.ts';
import { LAB_ENV, Labs, type LabInfo, type LabUsage } from './labs.ts';
import { WarmPool } from './warm-pool.ts';

export interface IncusBackendOptions {
	api: IncusApi;
	identity: GatewayIdentity;
	limits: LabLimits;
	/** Ready labs kept ahead of need. */
	warmLabs: number;
	/** A lab whose reader has had no terminal this long is stopped. */
	idleStopMs: number;
	/** A stopped lab whose reader has not come back this long is removed; 0: never (class mode removes labs with their seats). */
	retainMs: number;
	/**
	 * Where a `lab:setup` of this machine stands (the first `npm start` as root runs one): while one
	 * runs, a reader whose lab cannot be had yet is told the lab is being prepared.
	 */
	setupState?: () => Promise<SetupState | null>;
	logger: Logger;
}

/** What the instructor and `GET /api/lab` see of a reader's lab. */
export interface LabSummary {
	name: string;
	owner: string;
	running: boolean;
	location: string;
	usage?: LabUsage;
}

const HOST_SCRIPT = '/root/.podlab/podlab-host.sh';
/** How long a started lab may take to finish booting (its init's /run/podlab-ready). */
const BOOT_TIMEOUT_S = 15;
/** How long a command podlab runs in a lab (install, end, signal) may take. */
const COMMAND_TIMEOUT_MS = 20_000;
/**
 * How long ending a terminal's tmux session may take (it takes well under a second): the lab's root
 * can make the command hang, and ending, freeing and resetting must finish within a few seconds.
 */
const END_TIMEOUT_MS = 5_000;
/** While Incus does not answer, how often the gateway asks again. */
const RECONNECT_MIN_MS = 2_000;
const RECONNECT_MAX_MS = 30_000;
/** How often the labs are looked over (retention, labs seen again after their member was offline). */
const SWEEP_MS = 60_000;

/** Why labs cannot be had right now: the reader's error and the operator's words. */
interface Outage {
	code: ErrorCode;
	problem: string;
}

export class IncusBackend implements LabBackend {
	readonly name = 'incus';
	/** Shells live in tmux inside the lab, which runs on without the gateway. */
	readonly keepsShells = true;
	readonly labs: Labs;
	readonly #options: IncusBackendOptions;
	readonly #pool: WarmPool;
	readonly #kernelLog: KernelLog;
	readonly #installScript: string;
	readonly #labStatus: () => Promise<LabStatus>;
	/** The lab's tmux server takes one attaching control client at a time (see AttachQueue). */
	readonly #attachQueue = new AttachQueue();
	/** Reader → their lab (a promise while it is being claimed, so two terminals share one). */
	readonly #owned = new Map<string, Promise<string>>();
	/** Reader → their lab's name, once claimed (for the instructor's roster). */
	readonly #names = new Map<string, string>();
	/** Lab → the cluster member it is on ("none" on a standalone server), as last seen. */
	readonly #locations = new Map<string, string>();
	/** Labs started and ready for terminals since this gateway last saw them stopped. */
	readonly #ready = new Map<string, Promise<void>>();
	readonly #terminals = new Map<string, number>();
	/** Reader → the output of each of their open terminals (a reset writes its notice there). */
	readonly #outputs = new Map<string, Set<ProcessEvents['output']>>();
	readonly #idleTimers = new Map<string, NodeJS.Timeout>();
	/** Labs being removed or stopped in the background; close() waits for them. */
	readonly #background = new Set<Promise<void>>();
	#outage: Outage | null = { code: 'LAB_ERR_LAB_ENGINE', problem: 'not connected yet' };
	#connecting: Promise<boolean> | null = null;
	#reconnectMs = RECONNECT_MIN_MS;
	#reconnectTimer: NodeJS.Timeout | null = null;
	#sweepTimer: NodeJS.Timeout | null = null;
	#kernelLogStarted = false;
	#closed = false;

	private constructor(options: IncusBackendOptions, script: string) {
		this.#options = options;
		this.labs = new Labs(options.api, options.identity, options.limits);
		this.#installScript = script;
		this.#pool = new WarmPool({ make: () => this.#makeLab(), give: (lab, owner) => this.labs.mark(lab, { owner }) }, options.warmLabs, options.logger);
		this.#kernelLog = new KernelLog({ api: options.api, identity: options.identity, logger: options.logger });
		this.#labStatus = cachedLabStatus(() => detectLab({ incus: { endpoint: options.api.endpoint, project: options.api.project } }));
	}

	/**
	 * Starts the backend. Incus need not answer yet: until it does, terminals fail with an error that
	 * says so, and the backend keeps asking.
	 */
	static async create(options: IncusBackendOptions): Promise<IncusBackend> {
		const backend = new IncusBackend(options, await installScript());
		await backend.#connect();
		return backend;
	}

	/** Why readers cannot have labs right now, or null when they can. */
	get outage(): string | null {
		return this.#outage?.problem ?? null;
	}

	describe(): BackendFacts {
		// Every reader may read /api/lab: counts and limits only, no reader's lab name, no address (the
		// startup log and `lab:status` say what is wrong).
		return { labs: this.#owned.size, warmLabs: this.#pool.readyCount, limits: this.#options.limits, labsAvailable: this.#outage === null };
	}

	/** What `GET /api/lab` says of the labs: Incus's address and its members' messages are for operators (`lab:status`), not for every reader. */
	async detectLab(): Promise<LabStatus> {
		const status = await this.#labStatus();
		const where = 'socketPath' in this.#options.api.endpoint ? 'this machine' : 'a remote Incus';
		return {
			...status,
			incus: {
				...status.incus,
				address: where,
				members: status.incus.members.map((member) => ({ ...member, message: '' })),
				missing: status.incus.missing.map((line) => line.replaceAll(this.#options.api.address, where)),
			},
		};
	}

	/** In class mode a seat is a lab: taken at join, removed with the seat. */
	readonly seats: StudentSeats = {
		assign: async (student) => {
			await this.labOf(student);
		},
		labOf: (student) => this.#names.get(student) ?? null,
		release: (student) => this.endReader(student),
		labStatus: async (student) => {
			const summary = await this.summary(student);
			return summary && { name: summary.name, state: summary.running ? 'running' : 'stopped', memoryBytes: summary.usage?.memoryBytes ?? null };
		},
		retain: (students) => this.retainOnly(students),
	};

	async spawn(request: SpawnRequest, events: ProcessEvents): Promise<LabProcess> {
		const session = sessionName(request.reader, request.term);
		let lab = await this.#readyLabOf(request.reader);
		this.#countTerminal(request.reader, +1);
		const output: ProcessEvents['output'] = (chunk) => events.output(chunk);
		const outputs = this.#outputs.get(request.reader) ?? new Set();
		this.#outputs.set(request.reader, outputs.add(output));
		let ended = false;
		const counted: ProcessEvents = {
			output,
			drain: () => events.drain(),
			exit: (code, problem) => {
				if (ended) return;
				ended = true;
				this.#countTerminal(request.reader, -1);
				outputs.delete(output);
				if (problem) this.#options.logger.warn({ reader: request.reader, terminal: request.id, lab, problem, what: client?.failure?.what }, 'incus: the lab broke a bound: terminal ended');
				events.exit(code, problem);
			},
		};
		// In /root, so that new shells start there; HOME tells the host script where its files are.
		const attach = ['attach', session, request.nonce, request.term, String(request.cols), String(request.rows)];
		const command = ['sh', '-c', 'cd /root && exec sh "$0" "$@"', HOST_SCRIPT, ...attach];
		const script = hostScriptCommands(HOST_SCRIPT, session);
		let client: TmuxControlClient | null = null;
		for (let attempt = 0; !client; attempt++) {
			const target = lab;
			try {
				client = await this.#attachQueue.attach(target, async () => {
					const pipes = await execPipes(this.#options.api, target, { command, environment: { ...LAB_ENV, TERM: 'xterm-256color' }, cwd: '/root' }, COMMAND_TIMEOUT_MS);
					return new TmuxControlClient(pipes, { target: `=${session}:`, pendingCommand: script.pending, nonce: request.nonce, cols: request.cols, rows: request.rows }, counted);
				});
			} catch (cause) {
				// Whatever broke, the next terminal looks again; a lab stopped behind podlab's back is started
				// now, and one deleted behind its back (`null`) replaced by a new one.
				this.#ready.delete(target);
				const now = attempt === 0 ? await this.labs.get(target).catch(() => undefined) : undefined;
				if (now === null || now?.running === false) {
					lab = await this.#readyLabOf(request.reader).catch((error: unknown) => {
						counted.exit(-1);
						throw error;
					});
					continue;
				}
				counted.exit(-1);
				throw await this.#labError(cause, target, `incus: cannot attach to ${target}`);
			}
		}
		this.#options.logger.info({ reader: request.reader, terminal: request.id, lab, session }, 'incus terminal attaching');
		const attached = lab;
		return new TmuxProcess(client, {
			endSession: () => this.#endSessions(attached, session),
			signalCommand: script.signal,
		});
	}

	/** The reader's lab, claimed from the warm pool on first need. @throws {LabError} when labs cannot be had now. */
	labOf(reader: string): Promise<string> {
		let lab = this.#owned.get(reader);
		if (!lab) {
			lab = (async () => {
				await this.#available();
				return this.#pool.claim(reader);
			})();
			this.#owned.set(reader, lab);
			lab.then(
				(name) => this.#names.set(reader, name),
				() => {
					if (this.#owned.get(reader) === lab) this.#owned.delete(reader);
				},
			);
		}
		return lab.catch((cause: unknown) => {
			throw this.#readerError(cause, 'incus: no lab for the reader');
		});
	}

	/**
	 * The reader's lab, running and ready for terminals (a stopped one is started again; one that is
	 * gone — an operator deleted it — is replaced by a new one).
	 */
	async #readyLabOf(reader: string): Promise<string> {
		for (let attempt = 0; ; attempt++) {
			const lab = await this.labOf(reader);
			try {
				await this.#readyLab(lab);
				return lab;
			} catch (cause) {
				if (cause instanceof IncusError && cause.notFound && attempt === 0 && this.#names.get(reader) === lab) {
					this.#options.logger.warn({ reader, lab }, 'incus: the reader\u2019s lab is gone; giving them a new one');
					this.#owned.delete(reader);
					this.#names.delete(reader);
					this.#forget(lab);
					continue;
				}
				throw await this.#labError(cause, lab, `incus: cannot start ${lab}`);
			}
		}
	}

	/** Makes sure `lab` runs and has podlab's files; once per start (concurrent callers share it). */
	#readyLab(lab: string, info?: LabInfo): Promise<void> {
		let ready = this.#ready.get(lab);
		if (!ready) {
			ready = (async () => {
				const current = info ?? (await this.labs.get(lab));
				if (!current) throw new IncusError(`the lab ${lab} is gone`, 404);
				this.#locations.set(lab, current.location);
				if (!current.running) await this.labs.start(lab);
				await this.#prepare(current);
			})();
			this.#ready.set(lab, ready);
			ready.catch(() => {
				if (this.#ready.get(lab) === ready) this.#ready.delete(lab);
			});
		}
		return ready;
	}

	/** Waits for the lab's init, installs podlab's files and gives it its kernel log (best effort: not waited for). */
	async #prepare(lab: LabInfo): Promise<void> {
		if (lab.rootUid !== null) void this.#kernelLog.prepare(lab.name, lab.location, lab.rootUid);
		const script = [
			`for i in $(seq ${BOOT_TIMEOUT_S * 20}); do [ -e /run/podlab-ready ] && break; sleep 0.05; done`,
			'[ -e /run/podlab-ready ] || { echo "the lab did not finish booting" >&2; exit 1; }',
			'mkdir -p /etc/podlab',
			`echo ${labLogDir(this.#options.identity.id, lab.name)} > /etc/podlab/kernel-log`,
			this.#installScript,
		].join('\n');
		const result = await this.labs.run(lab.name, ['sh', '-s'], { input: script, timeoutMs: (BOOT_TIMEOUT_S + 15) * 1000 });
		const problem = result.code === 0 ? installProblem(result.stdout) : result.stderr.trim() || `the install script failed with status ${result.code}`;
		if (problem) throw new Error(`incus: cannot prepare ${lab.name} for terminals: ${problem}`);
	}

	/** Makes a lab for the warm pool: made, started, ready. */
	async #makeLab(): Promise<string> {
		const lab = await this.labs.create();
		try {
			await this.labs.start(lab.name);
			await this.#readyLab(lab.name, { ...lab, running: true });
			return lab.name;
		} catch (error) {
			this.#forget(lab.name);
			await this.labs.destroy(lab.name).catch(() => {});
			throw error;
		}
	}

	/** The reader's lab, if they have one, with what it uses. */
	async summary(reader: string): Promise<LabSummary | null> {
		const name = await this.#owned.get(reader)?.catch(() => null);
		if (!name) return null;
		const info = await this.labs.get(name).catch(() => null);
		if (!info) return null;
		return { name, owner: reader, running: info.running, location: info.location, usage: info.running ? await this.labs.usage(name).catch(() => undefined) : undefined };
	}

	/**
	 * Replaces the reader's lab with a fresh one from the warm pool and returns its name as soon as
	 * the reader has it; the old one is removed with everything in it in the background. Before the
	 * first await, `notice` is written into the reader's open terminals and the reader's next terminal
	 * is promised the new lab, so that a caller may end the open ones at once
	 * (server/backends/lab-reset.ts) and a reconnect cannot land in the old lab.
	 */
	async resetLab(reader: string, notice?: string): Promise<string> {
		if (notice) for (const output of this.#outputs.get(reader) ?? []) output(Buffer.from(notice));
		const previous = this.#owned.get(reader);
		this.#owned.delete(reader);
		const fresh = this.labOf(reader);
		const old = await previous?.catch(() => null);
		try {
			this.#names.set(reader, await fresh);
		} catch (cause) {
			this.#names.delete(reader);
			throw cause;
		} finally {
			if (old) this.#remove(old);
		}
		this.#options.logger.info({ reader, lab: await fresh, old }, 'incus lab reset');
		return fresh;
	}

	/** Removes the reader's lab for good (seat freed, class over, kept past its retention). */
	async endReader(reader: string): Promise<void> {
		const lab = await this.#owned.get(reader)?.catch(() => null);
		this.#owned.delete(reader);
		this.#names.delete(reader);
		clearTimeout(this.#idleTimers.get(reader));
		this.#idleTimers.delete(reader);
		if (lab) {
			this.#forget(lab);
			await this.labs.destroy(lab);
			this.#options.logger.info({ reader, lab }, 'incus lab removed');
		}
	}

	/** Class mode: removes the labs of students the roster no longer has (seats freed while this gateway was down). */
	async retainOnly(students: ReadonlySet<string>): Promise<void> {
		for (const reader of [...this.#owned.keys()]) {
			if (!students.has(reader)) await this.endReader(reader).catch((error) => this.#options.logger.warn({ reader, err: error }, 'incus: could not remove a lab'));
		}
	}

	/** Runs a command in the reader's lab without a terminal (tests, the instructor's checks). */
	async execIn(reader: string, command: readonly string[]) {
		return this.labs.run(await this.#readyLabOf(reader), command);
	}

	/** Stops the reader's lab now, as its idle timer would (tests, the benchmark). */
	async stopIdle(reader: string): Promise<void> {
		const lab = await this.#owned.get(reader)?.catch(() => null);
		if (lab) await this.#stop(lab);
	}

	/** Resolves once the warm pool holds as many ready labs as it should (tests, the benchmark). */
	async warm(): Promise<void> {
		await this.#available();
		await this.#pool.fill();
	}

	async close(): Promise<void> {
		this.#closed = true;
		for (const timer of this.#idleTimers.values()) clearTimeout(timer);
		if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
		if (this.#sweepTimer) clearInterval(this.#sweepTimer);
		await this.#pool.close();
		await Promise.allSettled([...this.#background]);
		await this.#kernelLog.close();
		this.#options.api.close();
	}

	/**
	 * Asks Incus whether labs can be had, and on the first success takes over this gateway's labs,
	 * starts the kernel-log readers and fills the warm pool. Resolves to whether labs can be had.
	 */
	#connect(): Promise<boolean> {
		this.#connecting ??= (async () => {
			try {
				await this.#checkEngine();
				if (this.#outage) this.#options.logger.info('incus: labs can be had again');
				this.#outage = null;
				this.#reconnectMs = RECONNECT_MIN_MS;
				if (!this.#kernelLogStarted) await this.#takeOver();
				void this.#pool.fill();
				return true;
			} catch (error) {
				this.#down(error);
				return false;
			}
		})().finally(() => {
			this.#connecting = null;
		});
		return this.#connecting;
	}

	/** @throws {IncusError} unless Incus answers, trusts podlab, and has the project and the image. */
	async #checkEngine(): Promise<void> {
		const api = this.#options.api;
		const server = await api.get<{ auth: string }>('/1.0', { project: null, timeoutMs: 5_000 });
		if (server.auth !== 'trusted') throw new IncusError(`Incus at ${api.address} does not trust podlab's certificate`, 403);
		await api.get(`/1.0/projects/${api.project}`, { project: null, timeoutMs: 5_000 });
		try {
			await api.get(`/1.0/images/aliases/${LAB_IMAGE}`, { timeoutMs: 5_000 });
		} catch (error) {
			if ((error as IncusError).notFound) throw new IncusError(`there is no lab image "${LAB_IMAGE}" in the project ${api.project}: run \`npm run lab:setup\``, 404, { cause: error });
			throw error;
		}
	}

	/** Records why labs cannot be had and asks again later. */
	#down(error: unknown): void {
		const outage = outageOf(error);
		if (this.#outage?.problem !== outage.problem) this.#options.logger.warn({ problem: outage.problem }, 'incus: labs cannot be had now; trying again');
		this.#outage = outage;
		if (this.#closed || this.#reconnectTimer) return;
		this.#reconnectTimer = setTimeout(() => {
			this.#reconnectTimer = null;
			if (!this.#closed) void this.#connect();
		}, this.#reconnectMs);
		this.#reconnectTimer.unref();
		this.#reconnectMs = Math.min(RECONNECT_MAX_MS, this.#reconnectMs * 2);
	}

	/** @throws {LabError} when labs cannot be had (after one more try: Incus may just be back). */
	async #available(): Promise<void> {
		if (!this.#outage || (await this.#connect())) return;
		const problem = new Error(this.#outage!.problem);
		if ((await this.#options.setupState?.())?.state === 'running') throw new LabError('LAB_ERR_LAB_PREPARING', undefined, { cause: problem });
		throw new LabError(this.#outage!.code, undefined, { cause: problem });
	}

	/**
	 * Takes over what an earlier run of this gateway left: readers' labs are theirs again, running
	 * ready labs join the warm pool, stopped ones without a reader go. Labs of another gateway are
	 * left alone, unless that gateway can never come back (its state directory on this host is gone
	 * or holds another id). Then starts the kernel-log readers.
	 */
	async #takeOver(): Promise<void> {
		const api = this.#options.api;
		const me = this.#options.identity;
		const instances = await this.labs.instances();
		const labs = instances.filter((instance) => instance.role === 'lab');
		const unknown = instances.filter((instance) => instance.role === 'unknown');
		// Their readers get a new lab meanwhile; the older one is removed once its member is back (#sweep).
		if (unknown.length > 0) this.#options.logger.warn({ instances: unknown.map((instance) => `${instance.name}@${instance.location}`) }, 'incus: instances on offline members cannot be read now');
		const warm: string[] = [];
		for (const instance of instances) {
			if (instance.gateway === me.id || instance.host !== me.host || !instance.stateDir || !instance.gateway) continue;
			if ((await readGatewayId(instance.stateDir)) === instance.gateway) continue;
			this.#options.logger.info({ instance: instance.name, role: instance.role, gateway: instance.gateway, stateDir: instance.stateDir }, 'incus: removing what a gateway that is gone left');
			this.#remove(instance.name);
		}
		for (const lab of labs) {
			if (lab.gateway !== me.id) continue;
			this.#locations.set(lab.name, lab.location);
			if (lab.owner) {
				this.#owned.set(lab.owner, Promise.resolve(lab.name));
				this.#names.set(lab.owner, lab.name);
				if (lab.running) this.#armIdle(lab.owner, lab.lastUsed);
			} else if (lab.running) warm.push(lab.name);
			else this.#remove(lab.name);
		}
		const info = await api.get<{ environment: { server_clustered: boolean } }>('/1.0', { project: null });
		const members = info.environment.server_clustered ? (await api.get<Array<{ server_name: string }>>('/1.0/cluster/members', { project: null, query: { recursion: '1' } })).map((member) => member.server_name) : ['none'];
		await this.#kernelLog.start(members);
		this.#kernelLogStarted = true;
		for (const lab of labs) if (lab.gateway === me.id && lab.running && lab.rootUid !== null) void this.#kernelLog.prepare(lab.name, lab.location, lab.rootUid);
		// Warm labs are checked (booted, files installed) before a reader gets one.
		for (const name of warm) {
			const lab = labs.find((each) => each.name === name)!;
			await this.#readyLab(name, lab).then(
				() => this.#pool.adopt([name]),
				() => this.#remove(name),
			);
		}
		this.#sweep();
		this.#sweepTimer ??= setInterval(() => this.#sweep(), SWEEP_MS);
		this.#sweepTimer.unref();
		this.#options.logger.info({ labs: this.#owned.size, warm: warm.length, project: api.project, incus: api.address, host: hostname() }, 'incus: labs taken over');
	}

	/**
	 * Every minute: adopts this gateway's labs it could not see at its start (their member was
	 * offline), removes the older of two labs of one reader (a new one was made meanwhile), and, in
	 * local mode, removes stopped labs whose readers have not come back within the retention.
	 */
	#sweep(): void {
		void (async () => {
			const now = Date.now();
			for (const lab of await this.labs.list().catch(() => [])) {
				if (lab.gateway !== this.#options.identity.id || !lab.owner) continue;
				const current = this.#names.get(lab.owner);
				if (current === undefined && !this.#owned.has(lab.owner)) {
					this.#owned.set(lab.owner, Promise.resolve(lab.name));
					this.#names.set(lab.owner, lab.name);
					continue;
				}
				if (current !== undefined && current !== lab.name) {
					this.#options.logger.info({ lab: lab.name, reader: lab.owner, current }, 'incus: removing a reader\u2019s older lab');
					this.#remove(lab.name);
					continue;
				}
				if (this.#options.retainMs <= 0 || lab.running || now - (lab.lastUsed ?? 0) < this.#options.retainMs) continue;
				this.#options.logger.info({ lab: lab.name, reader: lab.owner }, 'incus: removing a lab kept past its retention');
				this.#owned.delete(lab.owner);
				this.#names.delete(lab.owner);
				this.#remove(lab.name);
			}
		})();
	}

	#remove(lab: string): void {
		this.#forget(lab);
		this.#track(this.labs.destroy(lab).catch((error: unknown) => this.#options.logger.warn({ lab, err: error }, 'incus: could not remove a lab')));
	}

	#forget(lab: string): void {
		this.#ready.delete(lab);
		this.#locations.delete(lab);
		void this.#kernelLog.forget(lab);
	}

	#track(work: Promise<void>): void {
		this.#background.add(work);
		void work.finally(() => this.#background.delete(work));
	}

	async #stop(lab: string): Promise<void> {
		this.#ready.delete(lab);
		await this.labs.stop(lab);
		this.#options.logger.info({ lab }, 'incus: idle lab stopped');
	}

	async #endSessions(lab: string, pattern: string): Promise<void> {
		try {
			const result = await this.labs.run(lab, ['sh', HOST_SCRIPT, 'end', pattern], { timeoutMs: END_TIMEOUT_MS });
			if (result.code !== 0) this.#options.logger.warn({ lab, sessions: pattern, status: result.code, detail: result.stderr.trim() }, 'could not end tmux sessions');
		} catch (error) {
			this.#options.logger.warn({ lab, sessions: pattern, err: error }, 'could not end tmux sessions');
		}
	}

	#countTerminal(reader: string, delta: number): void {
		const count = Math.max(0, (this.#terminals.get(reader) ?? 0) + delta);
		this.#terminals.set(reader, count);
		clearTimeout(this.#idleTimers.get(reader));
		this.#idleTimers.delete(reader);
		if (count > 0) return;
		const lab = this.#names.get(reader);
		if (lab) this.#track(this.labs.mark(lab, { lastUsed: Date.now() }).catch(() => {}));
		this.#armIdle(reader, Date.now());
	}

	/** Stops the reader's lab once it has had no terminal for the idle time (counted from `since`). */
	#armIdle(reader: string, since: number | null): void {
		const wait = Math.max(0, (since ?? Date.now()) + this.#options.idleStopMs - Date.now());
		const timer = setTimeout(() => {
			this.#idleTimers.delete(reader);
			const lab = this.#names.get(reader);
			if (lab && (this.#terminals.get(reader) ?? 0) === 0) this.#track(this.#stop(lab).catch((error: unknown) => this.#options.logger.warn({ lab, err: error }, 'incus: could not stop an idle lab')));
		}, wait);
		timer.unref();
		this.#idleTimers.set(reader, timer);
	}

	/**
	 * The error a reader gets when their lab failed them: the member it is on being offline says so
	 * (Incus's own error then only says that the member does not answer, in several wordings).
	 */
	async #labError(cause: unknown, lab: string, what: string): Promise<LabError> {
		const location = this.#locations.get(lab);
		if (!(cause instanceof LabError) && location && location !== 'none') {
			const member = await this.#options.api.get<{ status: string; message: string }>(`/1.0/cluster/members/${encodeURIComponent(location)}`, { project: null, timeoutMs: 5_000 }).catch(() => null);
			if (member && member.status !== 'Online') {
				this.#options.logger.warn({ lab, member: location, status: member.status, message: member.message }, `${what}: its member is not online`);
				return new LabError('LAB_ERR_HOST_UNREACHABLE', undefined, { cause });
			}
		}
		return this.#readerError(cause, what);
	}

	/** The error a reader gets for `cause`; Incus not answering also starts the reconnecting. */
	#readerError(cause: unknown, what: string): LabError {
		if (cause instanceof LabError) return cause;
		const outage = outageOf(cause);
		if (outage.code === 'LAB_ERR_LAB_ENGINE') this.#down(cause);
		this.#options.logger.warn({ err: cause }, what);
		return new LabError(outage.code, undefined, { cause });
	}
}

/** Which error a failure of Incus means for a reader. */
function outageOf(error: unknown): Outage {
	const message = (error as Error)?.message ?? String(error);
	if (error instanceof IncusError && error.unreachable) return { code: 'LAB_ERR_LAB_ENGINE', problem: message };
	if (/lab image|Image .* not found|no such image/i.test(message)) return { code: 'LAB_ERR_LAB_IMAGE', problem: message };
	if (/member .*offline|is offline|Failed to connect to cluster member|unreachable/i.test(message)) return { code: 'LAB_ERR_HOST_UNREACHABLE', problem: message };
	if (error instanceof IncusError && error.status === 403) return { code: 'LAB_ERR_LAB_ENGINE', problem: message };
	if (error instanceof IncusError && error.notFound && /Project not found/i.test(message)) return { code: 'LAB_ERR_LAB_IMAGE', problem: `${message} (run \`npm run lab:setup\`)` };
	return { code: 'LAB_ERR_SPAWN', problem: message };
}
