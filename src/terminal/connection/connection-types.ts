/**
 * A terminal's connection as its owners see it (the reader's panel, the instructor's views): what
 * they ask it (the options), what it tells them (the listener), its status, and the runs it types.
 * The connection itself is terminal-connection.ts.
 */
import type { BackoffOptions } from './backoff.ts';
import type { OpenSocket } from './browser-socket.ts';

/** A block to type into the shell. */
export interface TerminalRun {
	code: string;
	block: string;
	interrupt: boolean;
}

export type ConnectionStatus =
	| { state: 'connecting' }
	| { state: 'connected' }
	/** The socket dropped; the next attempt is in `retryInMs`. `code`: the gateway's error, when it gave one. */
	| { state: 'reconnecting'; retryInMs: number; cause: string; code?: string }
	/** The gateway does not answer at all. */
	| { state: 'offline'; retryInMs: number }
	/** The shell is gone (it exited, or was ended); a new one needs `restart()`. */
	/** `reason`: why the gateway ended it, when it says (idle limit, class over). */
	| { state: 'ended'; exitCode: number | null; reason?: string }
	/** Retrying will not help; `code` is a gateway error code or a client-side one. */
	| { state: 'failed'; code: string; message: string }
	/** Closed on purpose by `close()`. */
	| { state: 'closed' };

/** Why a run never reached the shell. */
export type UndeliveredReason = 'offline' | 'ended' | 'failed' | 'closed';

export interface ConnectionListener {
	status(status: ConnectionStatus): void;
	/** Output bytes, in order. Call `rendered` once the terminal has processed them (flow control). */
	output(bytes: Uint8Array, rendered: () => void): void;
	/**
	 * The socket is attached. `newShell`: the shell is not the one on screen (clear the screen).
	 * `lost`: bytes of earlier output the gateway no longer holds.
	 */
	attached(info: { created: boolean; newShell: boolean; lost: number }): void;
	/** The rest are about runs: a viewer (the instructor page) runs nothing and leaves them out. */
	busy?(busy: boolean): void;
	done?(block: string, exit: number): void;
	/** The terminal was busy and the run was not typed; offer to interrupt. */
	runRefused?(run: TerminalRun): void;
	runUndelivered?(run: TerminalRun, reason: UndeliveredReason): void;
	/** The socket dropped while these blocks were running: their results will not arrive. */
	resultsLost?(blocks: string[]): void;
	/** Class mode: the gateway will end this reader's terminals at `at` (epoch ms) unless they stay. */
	expiry?(reason: 'idle' | 'deadline', at: number): void;
	/** Class mode: the instructor started or stopped typing into this terminal. */
	takeover?(on: boolean): void;
	/** Class mode: a message from the instructor. */
	notice?(text: string): void;
	/** Watching a student: the size their terminal has (draw at it). */
	size?(cols: number, rows: number): void;
}

export interface TerminalConnectionOptions {
	term: string;
	/** The gateway's WebSocket URL (ws:// or wss://…/ws). */
	url: string;
	listener: ConnectionListener;
	openSocket: OpenSocket;
	/**
	 * Asks the gateway over HTTP whether it is there (and renews the reader cookie).
	 * Used when a socket could not even open, to tell "lab offline" from "refused".
	 */
	probe: () => Promise<boolean>;
	backoff?: BackoffOptions;
	/** Sent with every attach: the page the reader is on, or (instructor) the student to watch. */
	attach?: { page?: string; student?: string; tail?: number };
	/**
	 * Runs wait, once attached, until {@link TerminalConnection.resize} has given the screen's size:
	 * the panel attaches while xterm is still loading, and a block typed into a pty of another width
	 * is laid out by readline for that width.
	 * @default false
	 */
	runsWaitForSize?: boolean;
}
