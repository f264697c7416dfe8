/**
 * An exercise's check on this machine (the local backend: the machine's own lab), as a child process
 * with only descriptors 0–2, its output bounded like a lab's, killed by `timeout` after the check's
 * time (and by the gateway a few seconds later if `timeout` itself is stuck).
 */
import { spawn } from 'node:child_process';
import { TailBytes } from '../../../lab/lib/tail-bytes.ts';
import { CHECK_OUTPUT_BYTES, CHECK_TIMEOUT_S, checkCommand, type CheckRun } from '../backend.ts';
import { withOnlyStandardFds } from '../standard-fds.ts';

export function runLocalCheck(script: string, profile: string, options: { cwd: string; env: Record<string, string> }): Promise<CheckRun> {
	const [file, ...args] = checkCommand(profile);
	const command = withOnlyStandardFds(file!, args);
	return new Promise((resolve) => {
		const child = spawn(command.file, command.args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
		const [stdout, stderr] = [new TailBytes(CHECK_OUTPUT_BYTES), new TailBytes(CHECK_OUTPUT_BYTES)];
		child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
		child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
		// A script that exits without reading all of itself.
		child.stdin.on('error', () => {});
		const timer = setTimeout(() => child.kill('SIGKILL'), (CHECK_TIMEOUT_S + 5) * 1000);
		child.once('error', (error) => {
			clearTimeout(timer);
			resolve({ exit: 127, stdout: '', stderr: `the check could not start: ${error.message}` });
		});
		child.once('close', (code) => {
			clearTimeout(timer);
			resolve({ exit: code, stdout: stdout.text(), stderr: stderr.text() });
		});
		child.stdin.end(script);
	});
}
