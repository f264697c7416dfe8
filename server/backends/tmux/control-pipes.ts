/**
 * The far side of a tmux control-mode client, as the gateway holds it: the client's stdin, stdout
 * and stderr, and a way to end it: an ssh client process gives them (`childPipes`).
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';

export interface ControlPipes {
	/** A process on the gateway's machine standing for the client (the ssh client), or -1 when there is none (an Incus exec). */
	readonly pid: number;
	onStdout(listener: (chunk: Buffer) => void): void;
	onStderr(listener: (chunk: Buffer) => void): void;
	/** The client's stdin takes more after a write returned false. */
	onDrain(listener: () => void): void;
	/** Queues text for the client's stdin; false when more than its buffer waits. Ignored once the client is gone. */
	write(text: string): boolean;
	/** Bytes queued for stdin and not yet taken. */
	readonly queuedBytes: number;
	/** Stops reading the client's output: it then blocks on its writes. */
	pauseOutput(): void;
	resumeOutput(): void;
	/** SIGTERM asks the client to end; SIGKILL ends it, and lets go of every pipe at once. */
	kill(signal: 'SIGTERM' | 'SIGKILL'): void;
	/** Resolves with the client's exit status (-1: unknown) once it is gone and its last output was delivered. */
	readonly closed: Promise<number>;
}

/** The pipes of a child process of the gateway (the ssh client). */
export function childPipes(child: ChildProcessWithoutNullStreams): ControlPipes {
	if (child.pid === undefined) throw new Error('tmux control: the client process did not start');
	// The client gone: its exit says the rest.
	child.stdin.on('error', () => {});
	return {
		pid: child.pid,
		onStdout: (listener) => child.stdout.on('data', listener),
		onStderr: (listener) => child.stderr.on('data', listener),
		onDrain: (listener) => child.stdin.on('drain', listener),
		write: (text) => (child.stdin.writable ? child.stdin.write(text) : true),
		get queuedBytes() {
			return child.stdin.writableLength;
		},
		pauseOutput: () => child.stdout.pause(),
		resumeOutput: () => child.stdout.resume(),
		kill: (signal) => {
			try {
				child.kill(signal);
			} catch {
				// Already gone.
			}
			// Processes the client started on this side may hold the other ends of its pipes: the
			// gateway closes its own, so that nothing in a lab keeps them (or the terminal) open.
			if (signal === 'SIGKILL') for (const stream of [child.stdin, child.stdout, child.stderr]) stream.destroy();
		},
		// 'close', not 'exit': it comes after the last byte of output was read, however long that was paused.
		closed: new Promise((resolve) => child.once('close', (code) => resolve(code ?? -1))),
	};
}
