/**
 * A command run in a lab over Incus's exec websockets, as the pipes of a tmux control-mode client
 * (../tmux/control-pipes.ts). The gateway's ends are websockets it closes itself: nothing a lab's
 * processes do keeps them open.
 */
import type { ExecRequest, IncusApi } from '../../../lab/incus/incus-api.ts';
import type { ControlPipes } from '../tmux/control-pipes.ts';

const SIGTERM = 15;

/** Starts `request` in `instance` and returns its pipes. @throws {IncusError} when Incus refuses it. */
export async function execPipes(api: IncusApi, instance: string, request: ExecRequest, timeoutMs: number): Promise<ControlPipes> {
	const stdout: Array<(chunk: Buffer) => void> = [];
	const stderr: Array<(chunk: Buffer) => void> = [];
	const drain: Array<() => void> = [];
	// Output that comes before a listener is there waits for it (none should: listeners are added at once).
	const early: Array<['out' | 'err', Buffer]> = [];
	const deliver = (stream: 'out' | 'err', chunk: Buffer) => {
		const listeners = stream === 'out' ? stdout : stderr;
		if (listeners.length === 0) early.push([stream, chunk]);
		else for (const listener of listeners) listener(chunk);
	};
	const session = await api.exec(
		instance,
		request,
		{ stdout: (chunk) => deliver('out', chunk), stderr: (chunk) => deliver('err', chunk), drain: () => drain.forEach((listener) => listener()) },
		timeoutMs,
	);
	const flushEarly = () => {
		for (const [stream, chunk] of early.splice(0)) deliver(stream, chunk);
	};
	return {
		pid: -1,
		onStdout: (listener) => {
			stdout.push(listener);
			flushEarly();
		},
		onStderr: (listener) => {
			stderr.push(listener);
			flushEarly();
		},
		onDrain: (listener) => drain.push(listener),
		write: (text) => session.write(Buffer.from(text)),
		get queuedBytes() {
			return session.queuedBytes;
		},
		pauseOutput: () => session.pause(),
		resumeOutput: () => session.resume(),
		kill: (signal) => (signal === 'SIGTERM' ? session.signal(SIGTERM) : session.close()),
		closed: session.exited,
	};
}
