/**
 * Where a terminal's process runs. The gateway only sees a pty; a backend decides what is at the other
 * end (a shell on this machine, an ssh session to a lab host) and how to end all of it.
 */
import type { IPty } from 'node-pty';
import type { SignalName } from '../../src/protocol.ts';

export interface SpawnRequest {
	/** Unique per terminal, safe in paths: e.g. "r1a2b3c4-main-7". */
	id: string;
	/** The reader (student) the terminal belongs to: a stable, non-secret label safe in names ("r1a2b3c4"). */
	reader: string;
	term: string;
	/** Marks this terminal's OSC 133 output; the shell must get it in PODLAB_NONCE. */
	nonce: string;
	cols: number;
	rows: number;
}

export interface LabProcess {
	readonly pty: IPty;
	/** Sends a signal to the terminal's foreground job (never to the shell itself). */
	signalForeground(name: SignalName): Promise<void>;
	/**
	 * Lets go of the terminal because the gateway stops or the shell exited: for `local` that ends
	 * everything it started; an `ssh` lab host keeps its tmux session for the next gateway. Idempotent.
	 */
	terminate(): Promise<void>;
	/** Ends the terminal for good (grace expired, instructor, idle, class over): everything it started, on any backend. */
	destroy(): Promise<void>;
}

export interface LabBackend {
	readonly kind: 'local' | 'ssh' | 'lxc';
	/** Facts for `GET /api/lab` and the startup log. */
	describe(): { backend: string } & Record<string, unknown>;
	spawn(request: SpawnRequest): Promise<LabProcess>;
	/** Releases what the backend holds (after every terminal is terminated). */
	close(): Promise<void>;
}
