/**
 * The `ssh` backend: each student gets a lab host from a configured pool (sticky: see
 * host-assignments.ts), and each terminal is an ssh connection to that host, attached to the tmux
 * session `podlab-<student>-<term>` there, so the shell, its variables and its screen survive a
 * restart or a crash of the gateway.
 *
 * Before a terminal starts, one ssh run (`sh -s`) installs podlab's files in ~/.podlab on the host
 * (install.ts) and, by failing, tells why the host cannot be used: unreachable, host key
 * mismatch, key refused (errors.ts). Then `ssh -T` runs ~/.podlab/podlab-host.sh attach (host.sh),
 * which creates or reattaches the tmux session with tmux in control mode; ../tmux/control-mode.ts
 * turns that into the terminal's input and output, with the pane's bytes exactly as written (OSC 133
 * markers included) and tmux's reading of the pane paused while the gateway is.
 *
 * A terminal ends in one of two ways (../tmux/tmux-process.ts):
 * - `detach()`: only the ssh client ends, the tmux session and its shell stay on the host for the
 *   next gateway. For a gateway restart or shutdown.
 * - `kill()`: kills the tmux session (and what is left of the shell's session) on the host, then
 *   detaches. For an explicit end: grace expiry, the instructor ending a student's terminals.
 */
import { spawn as spawnChild } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { TailBytes } from '../../../lab/lib/tail-bytes.ts';
import { LabError } from '../../../src/protocol.ts';
import { CHECK_TIMEOUT_S, checkCommand, type BackendFacts, type CheckRun, type LabBackend, type LabProcess, type ProcessEvents, type SpawnRequest, type StudentSeats } from '../backend.ts';
import { withOnlyStandardFds } from '../standard-fds.ts';
import { AttachQueue, TmuxControlClient } from '../tmux/control-mode.ts';
import { childPipes } from '../tmux/control-pipes.ts';
import { hostScriptCommands, TmuxProcess } from '../tmux/tmux-process.ts';
import { LabHostError, sshFailure, type LabHostProblem } from './errors.ts';
import { HostAssignments } from './host-assignments.ts';
import { installProblem, installScript } from './install.ts';
import { parseSshHost, type SshHost } from './settings.ts';

export interface SshBackendOptions {
	/** Lab hosts, `user@host[:port]`. */
	hosts: readonly string[];
	/** Private key to log in with (mode 600, no passphrase). */
	identityFile: string;
	/** The only known_hosts file consulted; strict host-key checking. */
	knownHostsFile: string;
	/** Sticky student → host assignments (see host-assignments.ts). */
	assignmentsFile: string;
	connectTimeoutMs: number;
	studentsPerHost: number;
	logger: Logger;
}

/** What the instructor sees of a lab host. */
export interface LabHostStatus {
	/** `user@host:port`. */
	host: string;
	/** `host:port`. */
	label: string;
	students: string[];
	/** From the last connection to it: "unknown" until podlab has tried. */
	state: 'unknown' | 'up' | 'down';
	problem?: LabHostProblem;
	/** The sentence the student saw. */
	message?: string;
	/** What ssh said. */
	detail?: string;
	checkedAt?: string;
}

/** How long an ssh run without a terminal (install, signal, end) may take once connected. */
const REMOTE_COMMAND_TIMEOUT_MS = 15_000;
/** What is kept of each output stream of a command run on a lab host. */
const RUN_OUTPUT_BYTES = 1024 * 1024;
/** Student labels go into tmux session names and shell patterns: no "-" (it separates the term), ".", ":" or globs. */
const STUDENT_LABEL = /^[A-Za-z0-9_]{1,64}$/;
const TERMINAL_NAME = /^[a-z][a-z0-9-]{0,23}$/;
const HOST_SCRIPT = '"$HOME/.podlab/podlab-host.sh"';
/** Variables of the gateway's environment the ssh client gets; ssh sends none of them on (no SendEnv). */
const INHERITED_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME'];

export class SshBackend implements LabBackend {
	readonly name = 'ssh';
	/** tmux on the lab host keeps every shell while the gateway restarts. */
	readonly keepsShells = true;
	readonly #options: SshBackendOptions;
	readonly #hosts: Map<string, SshHost>;
	readonly #assignments: HostAssignments;
	readonly #installScript: string;
	/** A host's tmux server takes one attaching control client at a time (see AttachQueue). */
	readonly #attachQueue = new AttachQueue();
	readonly #status = new Map<string, Omit<LabHostStatus, 'host' | 'label' | 'students'>>();
	/** ssh runs without a terminal still going, so close() can wait for them. */
	readonly #running = new Set<Promise<unknown>>();

	private constructor(options: SshBackendOptions, hosts: SshHost[], assignments: HostAssignments, script: string) {
		this.#options = options;
		this.#hosts = new Map(hosts.map((host) => [host.spec, host]));
		this.#assignments = assignments;
		this.#installScript = script;
	}

	/**
	 * Checks what a misconfiguration would break later (the ssh client, the key's mode, a known_hosts
	 * entry for every host, the assignments file) and loads the assignments. Then checks every host in
	 * the background and logs the ones that cannot be used.
	 * @throws {Error} naming the setting or file at fault and how to fix it.
	 */
	static async create(options: SshBackendOptions): Promise<SshBackend> {
		const hosts = options.hosts.map(parseSshHost);
		if (hosts.length === 0) throw new Error('ssh backend: no lab hosts configured');
		await checkSshClient();
		await checkIdentityFile(options.identityFile);
		await checkKnownHosts(options.knownHostsFile, hosts);
		const assignments = await HostAssignments.open(options.assignmentsFile, {
			hosts: hosts.map((host) => host.spec),
			studentsPerHost: options.studentsPerHost,
		});
		const backend = new SshBackend(options, hosts, assignments, await installScript());
		void backend.checkHosts();
		return backend;
	}

	describe(): BackendFacts {
		// Every reader may read /api/lab: counts only, no addresses or accounts.
		return { hosts: this.#hosts.size, studentsPerHost: this.#options.studentsPerHost };
	}

	/** With lab hosts, a seat is a host: taken at join (a full pool says so there), given back with the seat. */
	readonly seats: StudentSeats = {
		assign: async (student) => {
			await this.assignHost(student);
		},
		labOf: (student) => this.hostOf(student) ?? null,
		release: async (student) => {
			await this.endStudent(student);
			await this.releaseStudent(student);
		},
	};

	async spawn(request: SpawnRequest, events: ProcessEvents): Promise<LabProcess> {
		const session = sessionName(request.reader, request.term);
		const host = this.#hosts.get(await this.#assignments.assign(request.reader))!;
		await this.#install(host);
		const attach = ['attach', session, request.nonce, request.term, String(request.cols), String(request.rows)];
		// Asked over this terminal's own connection: tmux runs the host script there.
		const script = hostScriptCommands(HOST_SCRIPT, session);
		const ssh = withOnlyStandardFds('ssh', [...this.#sshArgs(host), '-T', '--', host.hostname, `exec sh ${HOST_SCRIPT} ${attach.map(quote).join(' ')}`]);
		const client = await this.#attachQueue.attach(host.label, () => {
			const child = spawnChild(ssh.file, ssh.args, { env: this.#environment(), stdio: ['pipe', 'pipe', 'pipe'] });
			return new Promise<TmuxControlClient>((resolve, reject) => {
				child.once('spawn', () => resolve(new TmuxControlClient(childPipes(child), { target: `=${session}:`, pendingCommand: script.pending, nonce: request.nonce, cols: request.cols, rows: request.rows }, events)));
				child.once('error', (cause) => reject(new LabError('LAB_ERR_SPAWN', undefined, { cause: new Error(`ssh backend: cannot start ssh to ${host.label}: ${cause.message}`, { cause }) })));
			});
		});
		this.#options.logger.info({ reader: request.reader, terminal: request.id, host: host.label, session, pid: client.pid }, 'ssh terminal connecting');
		return new TmuxProcess(client, {
			endSession: () => this.#track(this.#end(host, session)),
			signalCommand: script.signal,
		});
	}

	/**
	 * Gives the student their lab host now (the first terminal would anyway), so that joining a class
	 * can say at once that every host is taken. Sticky: the same host every time.
	 * @throws {PoolFullError} when no host has room.
	 */
	assignHost(student: string): Promise<string> {
		if (!STUDENT_LABEL.test(student)) throw new Error(`ssh backend: "${student}" is not a student label`);
		return this.#assignments.assign(student);
	}

	/** The student's lab host (`user@host:port`), if they have one. */
	hostOf(student: string): string | undefined {
		return this.#assignments.hostOf(student);
	}

	/** Every host of the pool with its students and what the last connection to it found. */
	hostStatus(): LabHostStatus[] {
		const students = new Map<string, string[]>();
		for (const { student, host } of this.#assignments.list()) students.set(host, [...(students.get(host) ?? []), student]);
		return [...this.#hosts.values()].map((host) => ({
			host: host.spec,
			label: host.label,
			students: students.get(host.spec) ?? [],
			...(this.#status.get(host.spec) ?? { state: 'unknown' }),
		}));
	}

	/** Connects to every host (installing podlab's files), logs the ones that cannot be used, and returns {@link hostStatus}. */
	async checkHosts(): Promise<LabHostStatus[]> {
		await Promise.all([...this.#hosts.values()].map((host) => this.#track(this.#install(host)).catch(() => {})));
		return this.hostStatus();
	}

	/**
	 * Ends every terminal of a student on their host for good (tmux sessions, and what their shells
	 * left running), whether or not this gateway has them open; open ones end with a line saying so.
	 */
	async endStudent(student: string): Promise<void> {
		if (!STUDENT_LABEL.test(student)) throw new Error(`ssh backend: "${student}" is not a student label`);
		const spec = this.#assignments.hostOf(student);
		const host = spec ? this.#hosts.get(spec) : undefined;
		if (host) await this.#track(this.#end(host, `podlab-${student}-*`));
	}

	/** Frees the student's seat: their next terminal may land on another host. End their terminals first. */
	releaseStudent(student: string): Promise<boolean> {
		return this.#assignments.release(student);
	}

	async close(): Promise<void> {
		await Promise.allSettled([...this.#running]);
	}

	/** Installs podlab's files on the host and checks its tmux; records and throws why the host cannot be used. */
	async #install(host: SshHost): Promise<void> {
		const result = await this.#run(host, 'sh -s', this.#installScript);
		let error: LabHostError | null = null;
		if (result.code === 255 || result.code === null) {
			error = sshFailure(result.code === null ? `${result.stderr}\nConnection timed out` : result.stderr, host, this.#options.connectTimeoutMs);
		} else {
			const problem = result.code === 0 ? installProblem(result.stdout) : result.stderr.trim() || `the install script failed with status ${result.code}`;
			if (problem) {
				error = new LabHostError('setup', host, `Your lab host ${host.label} cannot run podlab terminals: ${problem}. Tell your instructor.`, result.stderr.trim() || problem);
			}
		}
		const checkedAt = new Date().toISOString();
		if (!error) {
			if (this.#status.get(host.spec)?.state !== 'up') this.#options.logger.info({ host: host.label }, 'lab host ready');
			this.#status.set(host.spec, { state: 'up', checkedAt });
			return;
		}
		this.#status.set(host.spec, { state: 'down', problem: error.problem, message: error.message, detail: error.detail, checkedAt });
		this.#options.logger.warn({ host: host.label, code: error.code, detail: error.detail }, 'lab host cannot be used');
		throw error;
	}

	/** Kills the tmux sessions matching `pattern` on the host. Logged, not thrown: ending must not fail. */
	async #end(host: SshHost, pattern: string): Promise<void> {
		const result = await this.#run(host, `sh ${HOST_SCRIPT} end ${quote(pattern)}`);
		if (result.code === 0) this.#options.logger.info({ host: host.label, sessions: pattern }, 'tmux sessions ended');
		else this.#options.logger.warn({ host: host.label, sessions: pattern, status: result.code, detail: result.stderr.trim() }, 'could not end tmux sessions');
	}

	/** An exercise's check on the student's lab host, as the host's lab user, not in a terminal. */
	async runCheck(reader: string, script: string, profile: string): Promise<CheckRun> {
		const host = this.#hosts.get(await this.#assignments.assign(reader))!;
		const { code, stdout, stderr } = await this.#run(host, checkCommand(profile).map(quote).join(' '), script, (CHECK_TIMEOUT_S + 5) * 1000);
		return { exit: code, stdout, stderr };
	}

	/**
	 * One connection to `port` on the student's lab host's loopback: ssh's stdio forwarding (`-W`),
	 * so nothing runs on the host for it. Ending the stream ends the ssh.
	 */
	async openPort(reader: string, port: number): Promise<Duplex> {
		const host = this.#hosts.get(await this.#assignments.assign(reader))!;
		const ssh = withOnlyStandardFds('ssh', [...this.#sshArgs(host), '-W', `127.0.0.1:${port}`, '--', host.hostname]);
		const child = spawnChild(ssh.file, ssh.args, { env: this.#environment(), stdio: ['pipe', 'pipe', 'pipe'] });
		const stderr = new TailBytes(1024);
		child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
		const stream = Duplex.from({ readable: child.stdout, writable: child.stdin }) as Duplex & { stderr: string };
		Object.defineProperty(stream, 'stderr', { get: () => stderr.text() });
		child.once('error', (error) => stream.destroy(error));
		stream.once('close', () => child.kill('SIGTERM'));
		return stream;
	}

	/** Runs `command` on the host without a terminal; `code` is null when it had to be killed for taking too long. */
	#run(host: SshHost, command: string, input = '', timeoutMs = REMOTE_COMMAND_TIMEOUT_MS): Promise<{ code: number | null; stdout: string; stderr: string }> {
		return new Promise((resolve, reject) => {
			const ssh = withOnlyStandardFds('ssh', [...this.#sshArgs(host), '-T', '--', host.hostname, command]);
			const child = spawnChild(ssh.file, ssh.args, { env: this.#environment(), stdio: ['pipe', 'pipe', 'pipe'] });
			// A lab host's output is bounded like a lab's: the last MiB of each stream.
			const [stdout, stderr] = [new TailBytes(RUN_OUTPUT_BYTES), new TailBytes(RUN_OUTPUT_BYTES)];
			child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
			child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
			// ssh exits before reading its input when it cannot connect.
			child.stdin.on('error', () => {});
			const timer = setTimeout(() => child.kill('SIGKILL'), this.#options.connectTimeoutMs + timeoutMs);
			child.once('error', (cause) => {
				clearTimeout(timer);
				reject(new Error(`ssh backend: cannot run ssh: ${cause.message}`, { cause }));
			});
			child.once('close', (code) => {
				clearTimeout(timer);
				resolve({ code, stdout: stdout.text(), stderr: stderr.text() });
			});
			child.stdin.end(input);
		});
	}

	#track<T>(promise: Promise<T>): Promise<T> {
		this.#running.add(promise);
		void promise.finally(() => this.#running.delete(promise)).catch(() => {});
		return promise;
	}

	/** ssh options for every connection: only the configured key and known_hosts, never a prompt. */
	#sshArgs(host: SshHost): string[] {
		const { identityFile, knownHostsFile, connectTimeoutMs } = this.#options;
		const options = [
			'IdentitiesOnly=yes',
			'IdentityAgent=none',
			'BatchMode=yes',
			'StrictHostKeyChecking=yes',
			`UserKnownHostsFile="${knownHostsFile}"`,
			'GlobalKnownHostsFile=/dev/null',
			'UpdateHostKeys=no',
			'CheckHostIP=no',
			`ConnectTimeout=${Math.ceil(connectTimeoutMs / 1000)}`,
			// A host that dies mid-session ends its terminals within 45 s instead of hanging them.
			'ServerAliveInterval=15',
			'ServerAliveCountMax=3',
			'ClearAllForwardings=yes',
			'ForwardAgent=no',
			'ForwardX11=no',
			'LogLevel=ERROR',
		];
		// -F none: no ~/.ssh/config or /etc/ssh/ssh_config, nothing may loosen these options.
		// -e none: "~." typed at the start of a line must reach the shell, not end the connection.
		return ['-F', 'none', '-e', 'none', '-i', identityFile, '-l', host.user, '-p', String(host.port), ...options.flatMap((option) => ['-o', option])];
	}

	#environment(): Record<string, string> {
		const env: Record<string, string> = {};
		for (const name of INHERITED_ENV) {
			const value = process.env[name];
			if (value !== undefined) env[name] = value;
		}
		return env;
	}
}

/** The tmux session of a student's terminal. @throws when either name could break out of it. */
export function sessionName(student: string, term: string): string {
	if (!STUDENT_LABEL.test(student)) throw new Error(`ssh backend: "${student}" is not a student label (1-64 of A-Z, a-z, 0-9, _)`);
	if (!TERMINAL_NAME.test(term)) throw new Error(`ssh backend: "${term}" is not a terminal name`);
	return `podlab-${student}-${term}`;
}

/** Quotes one word for the remote login shell. */
function quote(word: string): string {
	return `'${word.replaceAll("'", `'\\''`)}'`;
}

async function checkSshClient(): Promise<void> {
	await new Promise<void>((resolve, reject) => {
		const child = spawnChild('ssh', ['-V'], { stdio: 'ignore' });
		child.once('error', (cause) => reject(new Error('ssh backend: the ssh client is not installed (apt-get install openssh-client)', { cause })));
		child.once('close', () => resolve());
	});
}

async function checkIdentityFile(file: string): Promise<void> {
	let mode: number;
	try {
		await access(file, constants.R_OK);
		mode = (await stat(file)).mode;
	} catch (cause) {
		throw new Error(`ssh backend: cannot read the identity file ${file} (${(cause as Error).message}); give the private key podlab logs in with`, { cause });
	}
	// ssh ignores a private key that others can read, and auth would then fail on every host.
	if (mode & 0o077) throw new Error(`ssh backend: the identity file ${file} is readable by others, so ssh would ignore it: chmod 600 ${file}`);
}

/** Every host needs a key in known_hosts: with strict checking ssh would refuse it anyway, but only once a student waits. */
async function checkKnownHosts(file: string, hosts: SshHost[]): Promise<void> {
	if (/["\s]/.test(file)) throw new Error(`ssh backend: the known_hosts path "${file}" must not contain spaces or quotes`);
	try {
		await access(file, constants.R_OK);
	} catch (cause) {
		throw new Error(`ssh backend: cannot read the known_hosts file ${file} (${(cause as Error).message})`, { cause });
	}
	for (const host of hosts) {
		const name = host.port === 22 ? host.hostname : `[${host.hostname}]:${host.port}`;
		const found = await new Promise<boolean>((resolve) => {
			const child = spawnChild('ssh-keygen', ['-F', name, '-f', file], { stdio: 'ignore' });
			child.once('error', () => resolve(false));
			child.once('close', (code) => resolve(code === 0));
		});
		if (!found) {
			throw new Error(
				`ssh backend: ${file} has no host key for ${name}; check the host's fingerprint, then add it: ssh-keyscan -p ${host.port} ${host.hostname} >> ${file}`,
			);
		}
	}
}
