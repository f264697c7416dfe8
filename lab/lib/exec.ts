/**
 * Running host commands for the lab scripts: always with a timeout, never through a shell, and
 * with a result object instead of a rejection, so callers decide what a failure means.
 */
import { spawn } from 'node:child_process';

export interface RunOptions {
	/** Kill the command (SIGKILL) after this long. @default 30000 */
	timeoutMs?: number;
	/** Written to the command's stdin, which is then closed. @default nothing (stdin closed) */
	input?: string | Buffer;
	/** Environment of the command. @default process.env */
	env?: NodeJS.ProcessEnv;
	cwd?: string;
	/** Receives output as it arrives (both streams), e.g. for a build log. */
	onOutput?: (chunk: Buffer) => void;
	/** Keep at most this many characters of each stream in the result (the tail). @default 1 MiB */
	maxOutputChars?: number;
}

export interface RunResult {
	/** Exit status, or null when the command could not start or was killed by a signal. */
	code: number | null;
	signal: NodeJS.Signals | null;
	stdout: string;
	stderr: string;
	timedOut: boolean;
	/** Set when the command could not be started at all (e.g. ENOENT: not installed). */
	spawnError: NodeJS.ErrnoException | null;
	durationMs: number;
}

/** Runs `command` with `args`; resolves in every case (see `RunResult`), never rejects. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
	const { timeoutMs = 30_000, maxOutputChars = 1024 * 1024 } = options;
	const started = performance.now();
	return new Promise((resolve) => {
		let stdout = '';
		let stderr = '';
		let timedOut = false;
		let spawnError: NodeJS.ErrnoException | null = null;
		const keepTail = (kept: string, chunk: Buffer) => {
			const joined = kept + chunk.toString('utf8');
			return joined.length > maxOutputChars ? joined.slice(-maxOutputChars) : joined;
		};

		const child = spawn(command, args, {
			env: options.env ?? process.env,
			cwd: options.cwd,
			stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
		});
		const timer = setTimeout(() => {
			timedOut = true;
			child.kill('SIGKILL');
		}, timeoutMs);

		child.stdout?.on('data', (chunk: Buffer) => {
			stdout = keepTail(stdout, chunk);
			options.onOutput?.(chunk);
		});
		child.stderr?.on('data', (chunk: Buffer) => {
			stderr = keepTail(stderr, chunk);
			options.onOutput?.(chunk);
		});
		if (options.input !== undefined && child.stdin) {
			// A command that exits without reading its input would otherwise raise EPIPE here.
			child.stdin.on('error', () => {});
			child.stdin.end(options.input);
		}
		child.on('error', (error: NodeJS.ErrnoException) => {
			spawnError = error;
		});
		child.on('close', (code, signal) => {
			clearTimeout(timer);
			resolve({ code, signal, stdout, stderr, timedOut, spawnError, durationMs: performance.now() - started });
		});
	});
}

/** True when the command ran and exited with status 0. */
export function succeeded(result: RunResult): boolean {
	return result.code === 0 && !result.timedOut && result.spawnError === null;
}

/** One line that says how a command failed, for error messages. */
export function describeFailure(command: string, result: RunResult): string {
	if (result.spawnError?.code === 'ENOENT') return `${command}: command not found`;
	if (result.spawnError) return `${command}: could not start (${result.spawnError.message})`;
	if (result.timedOut) return `${command}: timed out after ${Math.round(result.durationMs / 1000)}s`;
	const lastLine = (result.stderr.trim() || result.stdout.trim()).split('\n').at(-1) ?? '';
	const status = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.code}`;
	return `${command} ${status}${lastLine ? `: ${lastLine}` : ''}`;
}
