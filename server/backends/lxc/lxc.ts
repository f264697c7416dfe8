/**
 * The `lxc` backend: every reader (local mode: per reader cookie; class mode: per student) gets a
 * lab of their own, an unprivileged LXC system container with nested rootful podman (labs.ts), taken
 * from a warm pool of ready labs (warm-pool.ts). All of a reader's terminals are shells in that lab.
 *
 * Inside the lab podlab runs what its ssh backend runs on a lab host (server/backends/ssh/): the same
 * host script, rc file and tmux config, installed in the lab's /root/.podlab, and tmux in control
 * mode, read by the same TmuxControlPty; only the transport differs (`lxc-attach` instead of ssh).
 * So a shell lives in its tmux session in the lab and survives a restart or a crash of the gateway,
 * and the lab itself runs on without the gateway: a restarted gateway finds each reader's lab again
 * by its owner label (labs.ts).
 */
import { spawn as spawnChild } from 'node:child_process';
import type { Logger } from 'pino';
import { detectLab, type LabStatus } from '../../../lab/status.ts';
import { LabError } from '../../../src/protocol.ts';
import type { BackendFacts, LabBackend, LabProcess, ProcessEvents, SpawnRequest, StudentSeats } from '../backend.ts';
import { installProblem, installScript } from '../ssh/install.ts';
import { sessionName } from '../ssh/ssh.ts';
import { withOnlyStandardFds } from '../standard-fds.ts';
import { AttachQueue, TmuxControlClient } from '../tmux/control-mode.ts';
import { TmuxProcess } from '../tmux/tmux-process.ts';
import type { LabLimits } from '../../../lab/lxc/lab-config.ts';
import { KmsgRouter } from './kmsg-router.ts';
import { Labs, LxcLabError, type LabUsage } from './labs.ts';
import { WarmPool } from './warm-pool.ts';

export interface LxcBackendOptions {
	limits: LabLimits;
	/** Ready labs kept ahead of need. */
	warmLabs: number;
	/** Local mode: a lab whose reader has had no terminal this long is removed; 0: never (class mode ends labs with the seat). */
	idleMs: number;
	logger: Logger;
}

/** What the instructor and `GET /api/lab` see of a reader's lab. */
export interface LabSummary {
	name: string;
	owner: string;
	running: boolean;
	usage?: LabUsage;
}

const HOST_SCRIPT = '/root/.podlab/podlab-host.sh';

export class LxcBackend implements LabBackend {
	readonly name = 'lxc';
	/** Shells live in tmux inside the lab, which runs on without the gateway. */
	readonly keepsShells = true;
	readonly #options: LxcBackendOptions;
	readonly #labs: Labs;
	readonly #pool: WarmPool;
	readonly #router: KmsgRouter;
	readonly #installScript: string;
	/** The lab's tmux server takes one attaching control client at a time (see AttachQueue). */
	readonly #attachQueue = new AttachQueue();
	/** Reader → their lab (a promise while it is being claimed, so two terminals share one). */
	readonly #owned = new Map<string, Promise<string>>();
	/** Reader → their lab's name, once claimed (for the instructor's roster). */
	readonly #names = new Map<string, string>();
	/** Labs whose podlab files this gateway has installed. */
	readonly #installed = new Set<string>();
	readonly #terminals = new Map<string, number>();
	/** Reader → the output of each of their open terminals (a reset writes its notice there). */
	readonly #outputs = new Map<string, Set<ProcessEvents['output']>>();
	readonly #idleTimers = new Map<string, NodeJS.Timeout>();
	/** Labs being removed in the background; close() waits for them. */
	readonly #removals = new Set<Promise<void>>();

	private constructor(options: LxcBackendOptions, labs: Labs, script: string) {
		this.#options = options;
		this.#labs = labs;
		this.#pool = new WarmPool(labs, options.warmLabs, options.logger);
		this.#router = new KmsgRouter(options.logger);
		this.#installScript = script;
	}

	/**
	 * Checks the host is prepared, takes over the labs an earlier gateway left (readers' labs and
	 * ready ones; stopped ones without a reader are removed), then fills the warm pool in the background.
	 * @throws {LxcLabError} saying what to run when the host is not prepared.
	 */
	static async create(options: LxcBackendOptions): Promise<LxcBackend> {
		const labs = new Labs(options.limits);
		await labs.prepare();
		const backend = new LxcBackend(options, labs, await installScript());
		const unowned: string[] = [];
		for (const lab of await labs.list()) {
			if (lab.owner) {
				backend.#owned.set(lab.owner, Promise.resolve(lab.name));
				backend.#names.set(lab.owner, lab.name);
				backend.#armIdle(lab.owner);
			} else if (lab.running) unowned.push(lab.name);
			else await labs.destroy(lab.name);
		}
		backend.#pool.adopt(unowned);
		backend.#router.start();
		void backend.#pool.fill();
		return backend;
	}

	describe(): BackendFacts {
		// Every reader may read /api/lab: counts and limits only, no reader's lab name.
		return { labs: this.#owned.size, warmLabs: this.#pool.readyCount, limits: this.#options.limits };
	}

	/** The shells see a lab built from this host's podman lab (its packages and images), checked when the base was built. */
	detectLab(): Promise<LabStatus> {
		return detectLab();
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
	};

	async spawn(request: SpawnRequest, events: ProcessEvents): Promise<LabProcess> {
		const session = sessionName(request.reader, request.term);
		let lab: string;
		try {
			lab = await this.labOf(request.reader);
			await this.#install(lab);
		} catch (cause) {
			this.#options.logger.warn({ reader: request.reader, err: cause }, 'lxc: no lab for the reader');
			throw new LabError('LAB_ERR_SPAWN', undefined, { cause });
		}
		this.#countTerminal(request.reader, +1);
		const attach = ['attach', session, request.nonce, request.term, String(request.cols), String(request.rows)];
		// In /root, so that new shells start there; HOME tells the host script where its files are.
		const command = ['sh', '-c', 'cd /root && exec sh "$0" "$@"', HOST_SCRIPT, ...attach];
		const lxcAttach = withOnlyStandardFds('lxc-attach', this.#labs.attachArgs(lab, command, { TERM: 'xterm-256color' }));
		const output: ProcessEvents['output'] = (chunk) => events.output(chunk);
		const outputs = this.#outputs.get(request.reader) ?? new Set();
		this.#outputs.set(request.reader, outputs.add(output));
		const counted: ProcessEvents = {
			output,
			drain: () => events.drain(),
			exit: (code) => {
				this.#countTerminal(request.reader, -1);
				outputs.delete(output);
				events.exit(code);
			},
		};
		const client = await this.#attachQueue.attach(lab, () => {
			const child = spawnChild(lxcAttach.file, lxcAttach.args, { env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' }, stdio: ['pipe', 'pipe', 'pipe'] });
			return new Promise<TmuxControlClient>((resolve, reject) => {
				child.once('spawn', () => resolve(new TmuxControlClient(child, { target: `=${session}:`, nonce: request.nonce, cols: request.cols, rows: request.rows }, counted)));
				child.once('error', (cause) => reject(new LabError('LAB_ERR_SPAWN', undefined, { cause: new Error(`lxc backend: cannot run lxc-attach: ${cause.message}`, { cause }) })));
			});
		});
		this.#options.logger.info({ reader: request.reader, terminal: request.id, lab, session, pid: client.pid }, 'lxc terminal attaching');
		return new TmuxProcess(client, {
			endSession: () => this.#endSessions(lab, session),
			signalCommand: (name) => `run-shell -b 'sh ${HOST_SCRIPT} signal ${session} ${name.replace(/^SIG/, '')} >/dev/null 2>&1'`,
		});
	}

	/** The reader's lab, claimed from the warm pool on first need (and started again after a host reboot). */
	labOf(reader: string): Promise<string> {
		let lab = this.#owned.get(reader);
		if (!lab) {
			lab = this.#pool.claim(reader);
			this.#owned.set(reader, lab);
			lab.then(
				(name) => this.#names.set(reader, name),
				() => this.#owned.delete(reader),
			);
			return lab;
		}
		return lab.then(async (name) => {
			if ((await this.#labs.initPid(name)) === null) {
				this.#installed.delete(name);
				await this.#labs.start(name);
			}
			return name;
		});
	}

	/** The reader's lab, if they have one, with what it uses. */
	async summary(reader: string): Promise<LabSummary | null> {
		const lab = this.#owned.get(reader);
		if (!lab) return null;
		const name = await lab.catch(() => null);
		if (!name) return null;
		const running = (await this.#labs.initPid(name)) !== null;
		return { name, owner: reader, running, usage: running ? await this.#labs.usage(name) : undefined };
	}

	/**
	 * Replaces the reader's lab with a fresh one from the warm pool and returns its name as soon as
	 * the reader has it; the old one is removed with everything in it in the background (stopping
	 * a lab with pods takes a second or two). Before the first await, `notice` is written into the
	 * reader's open terminals and the reader's next terminal is promised the new lab, so that a
	 * caller may end the open ones at once (server/backends/lab-reset.ts) and a reconnect cannot
	 * land in the old lab. Open terminals end as their lab goes, at the latest.
	 */
	async resetLab(reader: string, notice?: string): Promise<string> {
		if (notice) for (const output of this.#outputs.get(reader) ?? []) output(Buffer.from(notice));
		const previous = this.#owned.get(reader);
		const fresh = this.#pool.claim(reader);
		this.#owned.set(reader, fresh);
		const old = await previous?.catch(() => null);
		try {
			this.#names.set(reader, await fresh);
		} catch (cause) {
			this.#owned.delete(reader);
			this.#names.delete(reader);
			throw cause;
		} finally {
			if (old) {
				this.#installed.delete(old);
				this.#removing(this.#labs.destroy(old));
			}
		}
		this.#options.logger.info({ reader, lab: await fresh, old }, 'lxc lab reset');
		return fresh;
	}

	/** Removes the reader's lab for good (seat freed, class over, idle in local mode). */
	async endReader(reader: string): Promise<void> {
		const lab = await this.#owned.get(reader)?.catch(() => null);
		this.#owned.delete(reader);
		this.#names.delete(reader);
		clearTimeout(this.#idleTimers.get(reader));
		this.#idleTimers.delete(reader);
		if (lab) {
			this.#installed.delete(lab);
			await this.#labs.destroy(lab);
			this.#options.logger.info({ reader, lab }, 'lxc lab removed');
		}
	}

	/** Runs a command in the reader's lab without a terminal (tests, the instructor's checks). */
	async execIn(reader: string, command: readonly string[]) {
		return this.#labs.exec(await this.labOf(reader), command);
	}

	/** Resolves once the warm pool holds as many ready labs as it should (tests, the benchmark). */
	warm(): Promise<void> {
		return this.#pool.fill();
	}

	async close(): Promise<void> {
		for (const timer of this.#idleTimers.values()) clearTimeout(timer);
		this.#router.stop();
		await this.#pool.close();
		await Promise.allSettled([...this.#removals]);
	}

	#removing(removal: Promise<void>): void {
		const tracked = removal.catch((error: unknown) => this.#options.logger.warn({ err: error }, 'lxc: could not remove a lab'));
		this.#removals.add(tracked);
		void tracked.finally(() => this.#removals.delete(tracked));
	}

	/** Installs podlab's shell files in the lab (once per lab and gateway: a new gateway may bring new ones). */
	async #install(lab: string): Promise<void> {
		if (this.#installed.has(lab)) return;
		const result = await this.#labs.exec(lab, ['sh', '-s'], { input: this.#installScript, timeoutMs: 15_000 });
		const problem = result.code === 0 ? installProblem(result.stdout) : result.stderr.trim() || `the install script failed with status ${result.code}`;
		if (problem) throw new LxcLabError(`lxc: cannot prepare ${lab} for terminals: ${problem}`);
		this.#installed.add(lab);
	}

	async #endSessions(lab: string, pattern: string): Promise<void> {
		const result = await this.#labs.exec(lab, ['sh', HOST_SCRIPT, 'end', pattern], { timeoutMs: 15_000 });
		if (result.code !== 0) this.#options.logger.warn({ lab, sessions: pattern, status: result.code, detail: result.stderr.trim() }, 'could not end tmux sessions');
	}

	#countTerminal(reader: string, delta: number): void {
		const count = (this.#terminals.get(reader) ?? 0) + delta;
		this.#terminals.set(reader, count);
		clearTimeout(this.#idleTimers.get(reader));
		this.#idleTimers.delete(reader);
		if (count <= 0) this.#armIdle(reader);
	}

	#armIdle(reader: string): void {
		if (this.#options.idleMs <= 0) return;
		const timer = setTimeout(() => void this.endReader(reader).catch(() => {}), this.#options.idleMs);
		timer.unref();
		this.#idleTimers.set(reader, timer);
	}
}
