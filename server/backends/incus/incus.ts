/**
 * The `incus` backend: every reader (local mode: per reader cookie; class mode: per student) gets a
 * lab of their own, an unprivileged Incus system container with nested rootful podman, made from
 * podlab's image in podlab's project, on this machine or wherever Incus's scheduler places it in a
 * cluster. All of a reader's terminals are shells in that lab.
 *
 * Inside the lab a terminal is a shell held by podlab's terminal relay (lab/incus/files/terminal-relay.c,
 * relay-process.ts), with the shell integration its ssh backend uses on a lab host (the rc file,
 * installed in the lab's /root/.podlab); an Incus exec attaches it, and its frames go over a socket
 * of the gateway's mounted in the lab (terminal-sockets.ts), or over the exec for a lab on another
 * member of a cluster. So a shell lives in its relay's daemon in the lab and survives a restart or a
 * crash of the gateway.
 *
 * What podlab decides, Incus does: labs are made ahead (warm-pool.ts); a lab whose reader has had
 * no terminal for PODLAB_LAB_IDLE_STOP_MS is stopped (its files and podman's state stay on disk) and
 * started again by the reader's next terminal; a stopped lab is removed after PODLAB_LAB_RETAIN_MS
 * (local mode) or with its seat (class mode). Incus being down, a member offline or the image
 * missing make terminals fail with an error that says so; the gateway keeps trying and carries on
 * by itself when Incus is back.
 *
 * This class is the LabBackend the gateway sees and wires the parts: engine-link.ts (Incus there or
 * away), reader-labs.ts (readers' labs over their life), lab-terminals.ts (terminals in a lab),
 * take-over.ts (what an earlier run left).
 */
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { IncusApi } from '../../../lab/incus/incus-api.ts';
import type { LabLimits } from '../../../lab/incus/lab-profile.ts';
import type { SetupState } from '../../../lab/lib/setup-state.ts';
import { detectLab, type LabStatus } from '../../../lab/status.ts';
import { cachedLabStatus } from '../../lab-status.ts';
import { CHECK_TIMEOUT_S, checkCommand, type BackendFacts, type CheckRun, type LabBackend, type LabProcess, type ProcessEvents, type SpawnRequest, type StudentSeats } from '../backend.ts';
import { installScript } from '../ssh/install.ts';
import { EngineLink } from './engine-link.ts';
import { ExecStream } from './exec-stream.ts';
import { forwardCommand } from './port-forward.ts';
import type { GatewayIdentity } from './gateway-identity.ts';
import { KernelLog } from './kernel-log.ts';
import { LabTerminals } from './lab-terminals.ts';
import { Labs } from './labs.ts';
import { ReaderLabs, type LabSummary } from './reader-labs.ts';
import { takeOver } from './take-over.ts';
import { TerminalSockets } from './terminal-sockets.ts';

export type { LabSummary } from './reader-labs.ts';

/** How long Incus may take to start a preview's forwarder in a running lab. */
const PORT_OPEN_TIMEOUT_MS = 15_000;

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

export class IncusBackend implements LabBackend {
	readonly name = 'incus';
	/** Shells live in their relays inside the lab, which run on without the gateway. */
	readonly keepsShells = true;
	readonly labs: Labs;
	readonly #options: IncusBackendOptions;
	readonly #engine: EngineLink;
	readonly #readerLabs: ReaderLabs;
	readonly #terminals: LabTerminals;
	readonly #kernelLog: KernelLog;
	readonly #terminalSockets: TerminalSockets | undefined;
	readonly #labStatus: () => Promise<LabStatus>;
	#takenOver = false;

	private constructor(options: IncusBackendOptions, script: string) {
		this.#options = options;
		// A remote Incus's labs cannot reach a socket on this machine.
		this.#terminalSockets = 'socketPath' in options.api.endpoint ? new TerminalSockets(options.identity.id, options.logger) : undefined;
		this.labs = new Labs(options.api, options.identity, options.limits, this.#terminalSockets);
		this.#kernelLog = new KernelLog({ api: options.api, identity: options.identity, logger: options.logger });
		this.#engine = new EngineLink({ api: options.api, onUp: () => this.#up(), setupState: options.setupState, logger: options.logger });
		this.#readerLabs = new ReaderLabs({
			labs: this.labs,
			engine: this.#engine,
			kernelLog: this.#kernelLog,
			terminalSockets: this.#terminalSockets,
			installScript: script,
			warmLabs: options.warmLabs,
			idleStopMs: options.idleStopMs,
			retainMs: options.retainMs,
			logger: options.logger,
		});
		this.#terminals = new LabTerminals({ api: options.api, readerLabs: this.#readerLabs, sockets: this.#terminalSockets, logger: options.logger });
		this.#labStatus = cachedLabStatus(() => detectLab({ incus: { endpoint: options.api.endpoint, project: options.api.project } }));
	}

	/**
	 * Starts the backend. Incus need not answer yet: until it does, terminals fail with an error that
	 * says so, and the backend keeps asking.
	 */
	static async create(options: IncusBackendOptions): Promise<IncusBackend> {
		const backend = new IncusBackend(options, await installScript());
		await backend.#engine.connect();
		return backend;
	}

	/** Why readers cannot have labs right now, or null when they can. */
	get outage(): string | null {
		return this.#engine.outage;
	}

	describe(): BackendFacts {
		// Every reader may read /api/lab: counts and limits only, no reader's lab name, no address (the
		// startup log and `lab:status` say what is wrong).
		return { labs: this.#readerLabs.count, warmLabs: this.#readerLabs.pool.readyCount, limits: this.#options.limits, labsAvailable: this.#engine.outage === null };
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
		labOf: (student) => this.#readerLabs.nameOf(student) ?? null,
		release: (student) => this.endReader(student),
		labStatus: async (student) => {
			const summary = await this.summary(student);
			return summary && { name: summary.name, state: summary.running ? 'running' : 'stopped', memoryBytes: summary.usage?.memoryBytes ?? null };
		},
		retain: (students) => this.retainOnly(students),
	};

	spawn(request: SpawnRequest, events: ProcessEvents): Promise<LabProcess> {
		return this.#terminals.spawn(request, events);
	}

	/** The reader's lab, claimed from the warm pool on first need. @throws {LabError} when labs cannot be had now. */
	labOf(reader: string): Promise<string> {
		return this.#readerLabs.labOf(reader);
	}

	/** The reader's lab, if they have one, with what it uses. */
	summary(reader: string): Promise<LabSummary | null> {
		return this.#readerLabs.summary(reader);
	}

	/**
	 * Replaces the reader's lab with a fresh one from the warm pool and returns its name as soon as
	 * the reader has it; the old one is removed with everything in it in the background. Before the
	 * first await, `notice` is written into the reader's open terminals and the reader's next terminal
	 * is promised the new lab, so that a caller may end the open ones at once
	 * (server/backends/lab-reset.ts) and a reconnect cannot land in the old lab.
	 */
	resetLab(reader: string, notice?: string): Promise<string> {
		if (notice) this.#terminals.notify(reader, notice);
		return this.#readerLabs.reset(reader);
	}

	/** Removes the reader's lab for good (seat freed, class over, kept past its retention). */
	endReader(reader: string): Promise<void> {
		return this.#readerLabs.endReader(reader);
	}

	/** Class mode: removes the labs of students the roster no longer has (seats freed while this gateway was down). */
	retainOnly(students: ReadonlySet<string>): Promise<void> {
		return this.#readerLabs.retainOnly(students);
	}

	/** An exercise's check in the reader's lab, the one their terminals are in (started again after an idle stop), not in a terminal. */
	async runCheck(reader: string, script: string, profile: string): Promise<CheckRun> {
		const lab = await this.#readerLabs.readyLabOf(reader);
		// `timeout` in the lab kills the script; the exec's own deadline is for a lab that does not answer at all.
		const { code, stdout, stderr } = await this.labs.run(lab, checkCommand(profile), { input: script, timeoutMs: (CHECK_TIMEOUT_S + 5) * 1000 });
		return { exit: code, stdout, stderr };
	}

	/**
	 * One connection to `port` on the reader's lab's loopback, over an exec (port-forward.ts). An
	 * open connection keeps the lab from its idle stop, as a terminal does.
	 */
	async openPort(reader: string, port: number): Promise<Duplex> {
		const lab = await this.#readerLabs.readyLabOf(reader);
		let stream: ExecStream;
		try {
			stream = await ExecStream.open(this.#options.api, lab, { command: forwardCommand(port) }, PORT_OPEN_TIMEOUT_MS);
		} catch (cause) {
			throw await this.#readerLabs.labError(cause, lab, `incus: cannot reach port ${port} of ${lab}`);
		}
		this.#readerLabs.idle.opened(reader);
		stream.once('close', () => this.#readerLabs.idle.ended(reader));
		return stream;
	}

	/** Runs a command in the reader's lab without a terminal (tests, the instructor's checks). */
	async execIn(reader: string, command: readonly string[]) {
		return this.labs.run(await this.#readerLabs.readyLabOf(reader), command);
	}

	/** Stops the reader's lab now, as its idle timer would (tests, the benchmark). */
	stopIdle(reader: string): Promise<void> {
		return this.#readerLabs.stopIdle(reader);
	}

	/** Resolves once the warm pool holds as many ready labs as it should (tests, the benchmark). */
	async warm(): Promise<void> {
		await this.#engine.available();
		await this.#readerLabs.pool.fill();
	}

	async close(): Promise<void> {
		this.#engine.close();
		await this.#readerLabs.close();
		await this.#kernelLog.close();
		await this.#terminalSockets?.close();
		this.#options.api.close();
	}

	/** Incus answers: the first time, takes over this gateway's labs and starts the kernel-log readers; every time, fills the warm pool. */
	async #up(): Promise<void> {
		if (!this.#takenOver) {
			await takeOver({ api: this.#options.api, identity: this.#options.identity, readerLabs: this.#readerLabs, kernelLog: this.#kernelLog, terminalSockets: this.#terminalSockets, logger: this.#options.logger });
			this.#takenOver = true;
		}
		void this.#readerLabs.pool.fill();
	}
}
