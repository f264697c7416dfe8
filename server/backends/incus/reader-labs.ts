/**
 * Readers' labs over their life: claimed from the warm pool on first need, started again and made
 * ready for terminals (booted, podlab's files installed), replaced by a reset or when one is gone,
 * stopped when idle (idle-stop.ts), removed with the reader, and looked over every minute
 * (lab-sweep.ts). What Incus holds is the record (labs.ts); this is one gateway's view of whose lab is
 * which and which labs are ready now.
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { TERMINAL_RELAY_SOURCE_FILE } from '../../../lab/incus/base.ts';
import { IncusError, type RunInInstanceResult } from '../../../lab/incus/incus-api.ts';
import { buildTerminalRelay, TERMINAL_RELAY_BINARY, TERMINAL_RELAY_SOURCE } from '../../../lab/incus/names.ts';
import type { LabError } from '../../../src/protocol.ts';
import { installProblem } from '../ssh/install.ts';
import type { EngineLink } from './engine-link.ts';
import { IdleStop } from './idle-stop.ts';
import { labLogDir, type KernelLog } from './kernel-log.ts';
import { sweepActions } from './lab-sweep.ts';
import type { LabInfo, LabUsage, Labs } from './labs.ts';
import { RELAY_PROTOCOL } from './relay-process.ts';
import type { TerminalSockets } from './terminal-sockets.ts';
import { WarmPool } from './warm-pool.ts';

export interface ReaderLabsOptions {
	labs: Labs;
	/** Whether labs can be had now, and the reader's error when they cannot. */
	engine: EngineLink;
	/** Gives each ready lab its kernel log. */
	kernelLog: KernelLog;
	/** The gateway's terminal sockets (with Incus on this machine), closed with their labs. */
	terminalSockets?: TerminalSockets;
	/** The script that installs podlab's files in a lab (../ssh/install.ts). */
	installScript: string;
	/** Ready labs kept ahead of need. */
	warmLabs: number;
	/** A lab whose reader has had no terminal this long is stopped. */
	idleStopMs: number;
	/** A stopped lab whose reader has not come back this long is removed; 0: never. */
	retainMs: number;
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

/** The prepare script's status for a lab whose terminal relay is not this gateway's (an older lab image). */
const OLDER_RELAY = 3;
/** How long building the relay in a lab may take (about a second of the lab's CPU). */
const RELAY_BUILD_TIMEOUT_MS = 60_000;

/** How long a started lab may take to finish booting (its init's /run/podlab-ready). */
const BOOT_TIMEOUT_S = 15;
/** How often the labs are looked over (retention, labs seen again after their member was offline). */
const SWEEP_MS = 60_000;

export class ReaderLabs {
	readonly labs: Labs;
	readonly pool: WarmPool;
	/** Counts each reader's terminals; stops a lab without any. */
	readonly idle: IdleStop;
	readonly #options: ReaderLabsOptions;
	/** Reader → their lab (a promise while it is being claimed, so two terminals share one). */
	readonly #owned = new Map<string, Promise<string>>();
	/** Reader → their lab's name, once claimed (for the instructor's roster). */
	readonly #names = new Map<string, string>();
	/** Lab → the cluster member it is on ("none" on a standalone server), as last seen. */
	readonly #locations = new Map<string, string>();
	/** Labs started and ready for terminals since this gateway last saw them stopped. */
	readonly #ready = new Map<string, Promise<void>>();
	/** Labs being removed or stopped in the background; close() waits for them. */
	readonly #background = new Set<Promise<void>>();
	#sweepTimer: NodeJS.Timeout | null = null;

	constructor(options: ReaderLabsOptions) {
		this.#options = options;
		this.labs = options.labs;
		this.pool = new WarmPool({ make: () => this.#makeLab(), give: (lab, owner) => this.labs.mark(lab, { owner }) }, options.warmLabs, options.logger);
		this.idle = new IdleStop({
			idleStopMs: options.idleStopMs,
			labOf: (reader) => this.#names.get(reader),
			lastUsed: (lab, at) => this.#track(this.labs.mark(lab, { lastUsed: at }).catch(() => {})),
			stop: (lab) => this.#track(this.#stop(lab).catch((error: unknown) => options.logger.warn({ lab, err: error }, 'incus: could not stop an idle lab'))),
		});
	}

	/** How many readers have a lab (or are being given one). */
	get count(): number {
		return this.#owned.size;
	}

	/** The reader's lab's name, once claimed. */
	nameOf(reader: string): string | undefined {
		return this.#names.get(reader);
	}

	/** The reader's lab, claimed from the warm pool on first need. @throws {LabError} when labs cannot be had now. */
	labOf(reader: string): Promise<string> {
		let lab = this.#owned.get(reader);
		if (!lab) {
			lab = (async () => {
				await this.#options.engine.available();
				return this.pool.claim(reader);
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
			throw this.#options.engine.readerError(cause, 'incus: no lab for the reader');
		});
	}

	/**
	 * The reader's lab, running and ready for terminals (a stopped one is started again; one that is
	 * gone — an operator deleted it — is replaced by a new one).
	 */
	async readyLabOf(reader: string): Promise<string> {
		for (let attempt = 0; ; attempt++) {
			const lab = await this.labOf(reader);
			try {
				await this.readyLab(lab);
				return lab;
			} catch (cause) {
				if (cause instanceof IncusError && cause.notFound && attempt === 0 && this.#names.get(reader) === lab) {
					this.#options.logger.warn({ reader, lab }, 'incus: the reader\u2019s lab is gone; giving them a new one');
					this.#owned.delete(reader);
					this.#names.delete(reader);
					this.#forget(lab);
					continue;
				}
				throw await this.labError(cause, lab, `incus: cannot start ${lab}`);
			}
		}
	}

	/** Makes sure `lab` runs and has podlab's files; once per start (concurrent callers share it). */
	readyLab(lab: string, info?: LabInfo): Promise<void> {
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

	/** `lab` failed a terminal: the next terminal looks at it again. */
	unready(lab: string): void {
		this.#ready.delete(lab);
	}

	/** The error a reader gets when `lab` failed them (its member being offline says so). */
	labError(cause: unknown, lab: string, what: string): Promise<LabError> {
		return this.#options.engine.labError(cause, { name: lab, location: this.#locations.get(lab) }, what);
	}

	/** Where `lab` is, as Incus said when this gateway listed the labs. */
	located(lab: string, location: string): void {
		this.#locations.set(lab, location);
	}

	/** `lab` is the reader's (found in Incus: made by an earlier run of this gateway, or on a member that was offline). */
	adopt(reader: string, lab: string): void {
		this.#owned.set(reader, Promise.resolve(lab));
		this.#names.set(reader, lab);
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
	 * first await the reader's next terminal is promised the new lab, so that a reconnect cannot land
	 * in the old lab.
	 */
	async reset(reader: string): Promise<string> {
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
			if (old) this.remove(old);
		}
		this.#options.logger.info({ reader, lab: await fresh, old }, 'incus lab reset');
		return fresh;
	}

	/** Removes the reader's lab for good (seat freed, class over, kept past its retention). */
	async endReader(reader: string): Promise<void> {
		const lab = await this.#owned.get(reader)?.catch(() => null);
		this.#owned.delete(reader);
		this.#names.delete(reader);
		this.idle.cancel(reader);
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

	/** Stops the reader's lab now, as its idle timer would. */
	async stopIdle(reader: string): Promise<void> {
		const lab = await this.#owned.get(reader)?.catch(() => null);
		if (lab) await this.#stop(lab);
	}

	/** Removes `lab` in the background. */
	remove(lab: string): void {
		this.#forget(lab);
		this.#track(this.labs.destroy(lab).catch((error: unknown) => this.#options.logger.warn({ lab, err: error }, 'incus: could not remove a lab')));
	}

	/** Looks over the labs now and every minute from now on. */
	startSweeps(): void {
		this.#sweep();
		this.#sweepTimer ??= setInterval(() => this.#sweep(), SWEEP_MS);
		this.#sweepTimer.unref();
	}

	/** Stops the timers and the warm pool; resolves once the labs being stopped or removed are. */
	async close(): Promise<void> {
		this.idle.close();
		if (this.#sweepTimer) clearInterval(this.#sweepTimer);
		await this.pool.close();
		await Promise.allSettled([...this.#background]);
	}

	/**
	 * Waits for the lab's init, installs podlab's files and gives it its kernel log (best effort: not
	 * waited for). A reader's lab made from an older lab image gets this gateway's terminal relay
	 * first (a warm one is removed instead: take-over.ts).
	 */
	async #prepare(lab: LabInfo): Promise<void> {
		if (lab.rootUid !== null) void this.#options.kernelLog.prepare(lab.name, lab.location, lab.rootUid);
		let result = await this.#runPrepare(lab.name);
		if (result.code === OLDER_RELAY && lab.owner !== null) {
			await this.#updateRelay(lab.name);
			result = await this.#runPrepare(lab.name);
		}
		const problem =
			result.code === 0
				? installProblem(result.stdout)
				: result.code === OLDER_RELAY
					? 'its terminal relay is older than this gateway\u2019s (the lab was made by an older podlab): reset it'
					: result.stderr.trim() || `the install script failed with status ${result.code}`;
		if (problem) throw new Error(`incus: cannot prepare ${lab.name} for terminals: ${problem}`);
	}

	#runPrepare(lab: string): Promise<RunInInstanceResult> {
		const script = [
			`for i in $(seq ${BOOT_TIMEOUT_S * 20}); do [ -e /run/podlab-ready ] && break; sleep 0.05; done`,
			'[ -e /run/podlab-ready ] || { echo "the lab did not finish booting" >&2; exit 1; }',
			// A lab made from a lab image older than this gateway (without its terminal relay, or with one
			// that cannot use the gateway's socket) cannot hold terminals yet.
			`[ "$(${TERMINAL_RELAY_BINARY} protocol 2>/dev/null)" = ${RELAY_PROTOCOL} ] || exit ${OLDER_RELAY}`,
			'mkdir -p /etc/podlab',
			`echo ${labLogDir(this.labs.gateway, lab)} > /etc/podlab/kernel-log`,
			this.#options.installScript,
		].join('\n');
		return this.labs.run(lab, ['sh', '-s'], { input: script, timeoutMs: (BOOT_TIMEOUT_S + 15) * 1000 });
	}

	/**
	 * Builds this gateway's terminal relay in a reader's lab made from an older lab image, from the
	 * source the current image has it from (the lab image has gcc), and ends the older relay's
	 * sessions: their shells start anew at the next attach, and the lab keeps everything else — its
	 * files, containers and pods — where a reset would lose them.
	 */
	async #updateRelay(lab: string): Promise<void> {
		const source = await readFile(TERMINAL_RELAY_SOURCE_FILE, 'utf8');
		// gcc takes a file for C source by its name.
		const newSource = TERMINAL_RELAY_SOURCE.replace(/\.c$/, '.new.c');
		const script = [
			'set -e',
			`mkdir -p ${dirname(TERMINAL_RELAY_SOURCE)}`,
			`cat > ${newSource}`,
			buildTerminalRelay(`${TERMINAL_RELAY_BINARY}.new`, newSource),
			`mv ${newSource} ${TERMINAL_RELAY_SOURCE}`,
			`mv ${TERMINAL_RELAY_BINARY}.new ${TERMINAL_RELAY_BINARY}`,
			`${TERMINAL_RELAY_BINARY} end '*'`,
		].join('\n');
		const result = await this.labs.run(lab, ['sh', '-c', script], { input: source, timeoutMs: RELAY_BUILD_TIMEOUT_MS });
		if (result.code !== 0) {
			const why = result.stderr.trim().slice(-500) || `status ${result.code}`;
			throw new Error(`incus: cannot prepare ${lab} for terminals: it was made by an older podlab, and this gateway\u2019s terminal relay could not be built in it (${why}): reset it`);
		}
		this.#options.logger.info({ lab }, 'incus: built this gateway\u2019s terminal relay in a lab made by an older podlab; its shells start anew');
	}

	/** Makes a lab for the warm pool: made, started, ready. */
	async #makeLab(): Promise<string> {
		const lab = await this.labs.create();
		try {
			await this.labs.start(lab.name);
			await this.readyLab(lab.name, { ...lab, running: true });
			return lab.name;
		} catch (error) {
			this.#forget(lab.name);
			await this.labs.destroy(lab.name).catch(() => {});
			throw error;
		}
	}

	/** Carries out what the look over the labs decided (lab-sweep.ts). */
	#sweep(): void {
		void (async () => {
			const now = Date.now();
			const labs = await this.labs.list().catch(() => []);
			const state = { gateway: this.labs.gateway, names: this.#names, claimed: new Set(this.#owned.keys()), retainMs: this.#options.retainMs, now };
			for (const action of sweepActions(labs, state)) {
				if (action.kind === 'adopt') {
					this.adopt(action.reader, action.lab);
					continue;
				}
				if (action.kind === 'remove-older') {
					this.#options.logger.info({ lab: action.lab, reader: action.reader, current: action.current }, 'incus: removing a reader\u2019s older lab');
				} else {
					this.#options.logger.info({ lab: action.lab, reader: action.reader }, 'incus: removing a lab kept past its retention');
					this.#owned.delete(action.reader);
					this.#names.delete(action.reader);
				}
				this.remove(action.lab);
			}
		})();
	}

	#forget(lab: string): void {
		this.#ready.delete(lab);
		this.#locations.delete(lab);
		void this.#options.kernelLog.forget(lab);
		this.#options.terminalSockets?.forget(lab);
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
}
