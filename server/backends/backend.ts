/**
 * Where a terminal's process runs. The terminal core sees only {@link LabProcess}: bytes in, bytes
 * out, a size, a signal for the foreground job, and two ways to let go. A backend decides what is at
 * the other end (a shell on this machine, tmux on a lab host over ssh, tmux in an Incus lab) and
 * how to end all of it. Everything else a backend can do is an optional capability, asked for by
 * name, never by the backend's class. Adding a backend: docs/architecture.md.
 */
import type { Duplex } from 'node:stream';
import type { LabStatus } from '../../lab/status.ts';
import type { SignalName } from '../../src/protocol.ts';

export interface SpawnRequest {
	/** Unique per terminal, safe in paths: e.g. "r1a2b3c4-main-7". */
	id: string;
	/** The reader (student) the terminal belongs to: a stable, non-secret label safe in names ("r1a2b3c4", "s0123456789ab"). */
	reader: string;
	term: string;
	/** Marks this terminal's OSC 133 output; the shell must get it, and its children must not see it. */
	nonce: string;
	cols: number;
	rows: number;
}

/**
 * What a process tells its terminal. Given to {@link LabBackend.spawn}, so that nothing the process
 * says before `spawn` returns is lost.
 */
export interface ProcessEvents {
	/** Bytes the terminal's programs wrote, in order, OSC 133 markers included. */
	output(chunk: Buffer): void;
	/** Input that made {@link LabProcess.write} return false has been taken: more may follow. */
	drain(): void;
	/**
	 * The process is gone (-1: status unknown). Called once; nothing is called after it. `problem`
	 * says why the backend ended it: the lab's side broke a bound or a deadline (tmux/control-mode.ts).
	 */
	exit(code: number, problem?: LabProblem): void;
}

/** Why a backend ended a terminal the lab's side misbehaved in: codes of the protocol's ERRORS. */
export type LabProblem = 'LAB_ERR_LAB_OUTPUT' | 'LAB_ERR_LAB_TIMEOUT';

export interface LabProcess {
	/** A process on the gateway's machine standing for the terminal (node-pty's child, the ssh client), for logs; -1 when there is none (an Incus exec). */
	readonly pid: number;
	/**
	 * Queues keyboard input for the shell, in order. Returns false once more than the backend's
	 * {@link INPUT_QUEUE_BYTES} wait: the caller stops reading its socket until `drain`. Input
	 * still queued when the process ends is dropped, never written anywhere else.
	 */
	write(data: Buffer): boolean;
	/** Input bytes queued and not yet taken by the process. */
	readonly queuedInputBytes: number;
	resize(cols: number, rows: number): void;
	/** Stops reading the process's output (flow control): its programs then block on their writes. */
	pauseOutput(): void;
	resumeOutput(): void;
	/** Sends a signal to the terminal's foreground job, never to the shell itself. */
	signalForeground(name: SignalName): Promise<void>;
	/**
	 * Lets go of the terminal (the gateway stops, or the shell exited). A backend that can keeps the
	 * shell running for the next gateway ({@link LabBackend.keepsShells}); the others end it. Idempotent.
	 */
	detach(): Promise<void>;
	/** Ends the terminal for good, with everything it started, on any backend. Idempotent. */
	kill(): Promise<void>;
}

/** How much input a process queues before {@link LabProcess.write} asks the caller to wait. */
export const INPUT_QUEUE_BYTES = 64 * 1024;

/** Facts about a backend every reader may see (`GET /api/lab`, the startup log): counts and limits, nothing secret. */
export type BackendFacts = Record<string, unknown>;

/** Class mode: a backend where each student holds something of their own (a lab host, a lab container). */
export interface StudentSeats {
	/**
	 * Gives the student their place now (the first terminal would anyway), so that joining can say
	 * at once that there is none. Sticky: the same place every time.
	 * @throws {LabError} `LAB_ERR_POOL_FULL` when there is no room.
	 */
	assign(student: string): Promise<void>;
	/** What the instructor's roster shows as the student's lab (a host, a lab name), or null. */
	labOf(student: string): string | null;
	/** Ends everything the student has there, open terminals or not, and frees the place. */
	release(student: string): Promise<void>;
	/** What the instructor's roster shows of the student's lab: its state and the memory it uses; null when the student has none. */
	labStatus?(student: string): Promise<StudentLabStatus | null>;
	/** Frees the places of every student not in `students` (the roster at startup: seats freed while the gateway was down). */
	retain?(students: ReadonlySet<string>): Promise<void>;
}

/** A student's lab on the instructor's roster. */
export interface StudentLabStatus {
	name: string;
	state: 'running' | 'stopped';
	/** Memory the lab's processes use now (its cgroup), or null when unknown. */
	memoryBytes: number | null;
}

export interface LabBackend {
	/** `local`, `ssh`, … (PODLAB_LAB_BACKEND). */
	readonly name: string;
	describe(): BackendFacts;
	/** @throws {LabError} with a code from the protocol's `ERRORS` table, and a sentence for the reader. */
	spawn(request: SpawnRequest, events: ProcessEvents): Promise<LabProcess>;
	/** Releases what the backend holds, after every terminal was detached or killed. */
	close(): Promise<void>;
	/** Shells survive a restart of the gateway: a terminal started again with the same reader and name finds its shell. */
	readonly keepsShells?: boolean;
	/** What lab the shells see (`GET /api/lab`); without it, the gateway does not claim to know. */
	detectLab?(): Promise<LabStatus>;
	/** Class mode: each student's own place in the backend. */
	readonly seats?: StudentSeats;
	/**
	 * Replaces the reader's lab with a fresh, clean one (`POST /api/lab/reset`, the instructor's
	 * reset); resolves with the new lab's name once the reader has it. Before its first await it
	 * writes `notice` into the reader's open terminals and promises the reader's next terminal the
	 * new lab, so that the caller can end the open ones at once (lab-reset.ts). Without it, a reset
	 * is refused with `LAB_ERR_RESET_UNSUPPORTED`.
	 */
	resetLab?(reader: string, notice?: string): Promise<string>;
	/**
	 * Runs an exercise's check script (`bash -s`, the script on its standard input) as the reader's
	 * lab's root, outside their terminals, with `PODLAB_LAB_PROFILE=profile`, killed after
	 * {@link CHECK_TIMEOUT_S}; the last {@link CHECK_OUTPUT_BYTES} of each stream are kept. `exit` is
	 * null when it was killed for taking too long. Without it, a check is refused with
	 * `LAB_ERR_CHECK_UNSUPPORTED`.
	 */
	runCheck?(reader: string, script: string, profile: string): Promise<CheckRun>;
	/**
	 * Connects to TCP `port` on the loopback address of the reader's lab (a lab's web page, for its
	 * preview: ../preview/). The stream carries the connection's bytes both ways; ending it closes the
	 * connection in the lab. Without it, previews are refused with `LAB_ERR_PREVIEW_UNSUPPORTED`.
	 * @throws {LabError} when the reader's lab cannot be reached.
	 */
	openPort?(reader: string, port: number): Promise<Duplex>;
}

/** What an exercise's check script did: its exit status (null: killed for taking too long) and the end of its output. */
export interface CheckRun {
	exit: number | null;
	stdout: string;
	stderr: string;
}

/** How long an exercise's check may take before it is killed. */
export const CHECK_TIMEOUT_S = 20;

/** What is kept of each stream of a check (the message is its last line). */
export const CHECK_OUTPUT_BYTES = 64 * 1024;

/**
 * The command that runs a check script given on standard input: coreutils' `timeout` kills its
 * process group (the script and what it started) after {@link CHECK_TIMEOUT_S}, and exits 137.
 */
export function checkCommand(profile: string): string[] {
	return ['timeout', '-s', 'KILL', String(CHECK_TIMEOUT_S), 'env', `PODLAB_LAB_PROFILE=${profile}`, 'bash', '-s'];
}
