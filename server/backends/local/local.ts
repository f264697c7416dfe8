/**
 * The `local` backend: each terminal is a bash on the gateway's own machine, started in its own
 * cgroup when cgroups are writable. Fine for one reader on their own machine; in a class, students
 * would share root on the gateway's host (docs/security.md).
 */
import { readFile, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';
import { spawn, type IPty } from 'node-pty';
import type { Logger } from 'pino';
import type { LabStatus } from '../../../lab/status.ts';
import { LabError, type SignalName } from '../../../src/protocol.ts';
import { cachedLabStatus } from '../../lab-status.ts';
import { readProcStat, sessionMembers } from '../../process-tree.ts';
import type { BackendFacts, CheckRun, LabBackend, LabProcess, ProcessEvents, SpawnRequest } from '../backend.ts';
import { withOnlyStandardFds } from '../standard-fds.ts';
import { CgroupManager, type TerminalCgroup } from './cgroup.ts';
import { runLocalCheck } from './local-check.ts';
import { PtyInput } from './pty-input.ts';

const WRAPPER = fileURLToPath(new URL('./local-shell.sh', import.meta.url));
const RCFILE = fileURLToPath(new URL('../../shell/podlab.bashrc', import.meta.url));

/** Variables of the gateway's environment a lab shell inherits; everything else (secrets!) stays out. */
const INHERITED_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR'];

/** How long a hung-up terminal may take to exit before it is killed. */
const HANGUP_GRACE_MS = 1000;
/** How long, after the kill, to wait for node-pty to report the exit. */
const EXIT_WAIT_MS = 2000;
/** How long a signal for a busy terminal waits for its command to take the foreground. */
const FOREGROUND_WAIT_MS = 1000;

export interface LocalBackendOptions {
	/** Unset: the lab env file's PODLAB_LAB_DIR if it exists, else $HOME. */
	workdir?: string;
	labEnvFile: string;
	memoryLimitBytes: number;
	pidsLimit: number;
	cgroups: 'auto' | 'off' | 'required';
	logger: Logger;
}

export class LocalBackend implements LabBackend {
	readonly name = 'local';
	readonly #options: LocalBackendOptions;
	readonly #labStatus = cachedLabStatus();
	readonly #cgroups: CgroupManager | null;
	readonly #cgroupProblem: string | null;

	private constructor(options: LocalBackendOptions, cgroups: CgroupManager | null, cgroupProblem: string | null) {
		this.#options = options;
		this.#cgroups = cgroups;
		this.#cgroupProblem = cgroupProblem;
	}

	/** @throws when `cgroups` is "required" and they cannot be used. */
	static async create(options: LocalBackendOptions): Promise<LocalBackend> {
		if (options.cgroups === 'off') return new LocalBackend(options, null, 'disabled by PODLAB_CGROUPS=off');
		try {
			const cgroups = await CgroupManager.open({ memoryBytes: options.memoryLimitBytes, pids: options.pidsLimit });
			return new LocalBackend(options, cgroups, null);
		} catch (cause) {
			const reason = (cause as Error).message;
			if (options.cgroups === 'required') {
				throw new Error(`PODLAB_CGROUPS=required, but cgroups cannot be used here: ${reason}`, { cause });
			}
			options.logger.warn(
				{ reason },
				'cgroups are not usable here: terminals run WITHOUT memory and process limits (run the gateway as root on a machine with writable cgroups to contain them)',
			);
			return new LocalBackend(options, null, reason);
		}
	}

	describe(): BackendFacts {
		return {
			containment: this.#cgroups
				? { cgroup: this.#cgroups.version, memoryLimitBytes: this.#options.memoryLimitBytes, pidsLimit: this.#options.pidsLimit }
				: { cgroup: null, reason: this.#cgroupProblem },
		};
	}

	/** The shells run here, so they see this machine's lab. */
	detectLab(): Promise<LabStatus> {
		return this.#labStatus();
	}

	async spawn(request: SpawnRequest, events: ProcessEvents): Promise<LabProcess> {
		// Read per spawn, so a `lab:setup` after the gateway started counts.
		const labEnv = await readFile(this.#options.labEnvFile, 'utf8').then(parseEnv, () => ({}) as Record<string, string>);
		const cwd = await this.#workdir(labEnv);
		const cgroup = this.#cgroups ? await this.#cgroups.create(request.id) : null;
		try {
			const shell = withOnlyStandardFds('/bin/sh', [WRAPPER, RCFILE, ...(cgroup?.procsFiles ?? [])]);
			const pty = spawn(shell.file, shell.args, {
				name: 'xterm-256color',
				cols: request.cols,
				rows: request.rows,
				cwd,
				env: this.#environment(request, labEnv),
				encoding: null,
			});
			return new LocalProcess(pty, cgroup, events);
		} catch (cause) {
			await cgroup?.remove().catch(() => {});
			throw new LabError('LAB_ERR_SPAWN', undefined, { cause: new Error(`local backend: cannot start a shell in ${cwd}: ${(cause as Error).message}`, { cause }) });
		}
	}

	/** An exercise's check, in the same lab as the shells: their working directory and the lab's environment. */
	async runCheck(_reader: string, script: string, profile: string): Promise<CheckRun> {
		const labEnv = await readFile(this.#options.labEnvFile, 'utf8').then(parseEnv, () => ({}) as Record<string, string>);
		const env: Record<string, string> = { LANG: 'C.UTF-8' };
		for (const name of INHERITED_ENV) if (process.env[name] !== undefined) env[name] = process.env[name];
		return runLocalCheck(script, profile, { cwd: await this.#workdir(labEnv), env: { ...env, ...(labEnv as Record<string, string>), PODLAB: '1' } });
	}

	/** A connection to `port` on this machine's loopback: the local lab is this machine. */
	async openPort(_reader: string, port: number): Promise<Duplex> {
		return connect({ host: '127.0.0.1', port });
	}

	async #workdir(labEnv: Record<string, string | undefined>): Promise<string> {
		if (this.#options.workdir) return this.#options.workdir;
		const labDir = labEnv.PODLAB_LAB_DIR;
		if (labDir && (await stat(labDir).then((info) => info.isDirectory(), () => false))) return labDir;
		return homedir();
	}

	async close(): Promise<void> {
		await this.#cgroups?.close();
	}

	#environment(request: SpawnRequest, labEnv: Record<string, string | undefined>): Record<string, string> {
		const env: Record<string, string> = {};
		for (const name of INHERITED_ENV) {
			const value = process.env[name];
			if (value !== undefined) env[name] = value;
		}
		return {
			LANG: 'C.UTF-8',
			...env,
			...labEnv,
			TERM: 'xterm-256color',
			COLORTERM: 'truecolor',
			PODLAB: '1',
			PODLAB_TERM: request.term,
			PODLAB_NONCE: request.nonce,
		} as Record<string, string>;
	}
}

class LocalProcess implements LabProcess {
	readonly #pty: IPty;
	readonly #cgroup: TerminalCgroup | null;
	readonly #input: PtyInput;
	readonly #exited: Promise<void>;
	#ending: Promise<void> | null = null;

	constructor(pty: IPty, cgroup: TerminalCgroup | null, events: ProcessEvents) {
		this.#pty = pty;
		this.#cgroup = cgroup;
		this.#input = new PtyInput(pty, () => events.drain());
		pty.onData((chunk) => events.output(chunk as unknown as Buffer));
		this.#exited = new Promise((resolve) =>
			pty.onExit(({ exitCode }) => {
				this.#input.close();
				events.exit(exitCode);
				resolve();
			}),
		);
	}

	get pid(): number {
		return this.#pty.pid;
	}

	write(data: Buffer): boolean {
		return this.#input.write(data);
	}

	get queuedInputBytes(): number {
		return this.#input.queuedBytes;
	}

	resize(cols: number, rows: number): void {
		this.#pty.resize(cols, rows);
	}

	pauseOutput(): void {
		this.#pty.pause();
	}

	resumeOutput(): void {
		this.#pty.resume();
	}

	async signalForeground(name: SignalName): Promise<void> {
		// The terminal is busy, but the shell may still be handing the terminal to the command: wait
		// for the command to be in the foreground, briefly. The shell itself is never signalled.
		for (const deadline = performance.now() + FOREGROUND_WAIT_MS; ; ) {
			const job = await this.#foregroundJob();
			if (job !== null) {
				try {
					process.kill(-job, name);
				} catch {
					// The job ended meanwhile.
				}
				return;
			}
			if (performance.now() > deadline) return;
			await new Promise((resolve) => setTimeout(resolve, 10));
		}
	}

	/** The terminal's foreground process group, unless it is the shell's (or the wrapper's). */
	async #foregroundJob(): Promise<number | null> {
		const session = this.#pty.pid;
		const foreground = (await readProcStat(session))?.terminalProcessGroup ?? -1;
		if (foreground <= 0 || foreground === session) return null;
		// The interactive shell is the wrapper's child; a job control signal must not end it.
		const shell = (await Promise.all((await sessionMembers(session)).map(readProcStat))).find((member) => member?.parent === session);
		return shell && shell.pid === foreground ? null : foreground;
	}

	/** On this machine, letting go and ending for good are the same: nothing would keep the shell. */
	detach(): Promise<void> {
		return this.kill();
	}

	kill(): Promise<void> {
		this.#ending ??= this.#end();
		return this.#ending;
	}

	async #end(): Promise<void> {
		// Whatever the reader typed and the shell did not take yet goes nowhere.
		this.#input.close();
		const session = this.#pty.pid;
		// With a cgroup, its member list is one small file; without, the session is found in /proc.
		const members = () => (this.#cgroup ? this.#cgroup.pids() : sessionMembers(session));
		signalEach(await members(), 'SIGHUP');
		await within(this.#exited, HANGUP_GRACE_MS);
		if (this.#cgroup) {
			// Freezes, kills and waits until empty: also what left the session (setsid, daemons).
			await this.#cgroup.killAll();
			await this.#cgroup.remove();
		} else {
			// SIGKILL is delivered at once but a process takes a moment to die: wait, bounded.
			for (let attempt = 0; attempt < 100; attempt++) {
				const left = await sessionMembers(session);
				if (left.length === 0) break;
				signalEach(left, 'SIGKILL');
				await new Promise((resolve) => setTimeout(resolve, 10));
			}
		}
		// node-pty reports the exit once the last holder of the pty is gone: bounded all the same.
		await within(this.#exited, EXIT_WAIT_MS);
	}
}

function signalEach(pids: number[], signal: NodeJS.Signals): void {
	for (const pid of pids) {
		try {
			process.kill(pid, signal);
		} catch {
			// Gone already.
		}
	}
}

/** Waits for `promise`, but at most `ms`. */
function within(promise: Promise<unknown>, ms: number): Promise<unknown> {
	let timer: NodeJS.Timeout | undefined;
	return Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
}
