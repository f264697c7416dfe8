/**
 * Network namespaces the tests make (lab hosts for the ssh backend, Incus cluster members): ending
 * what runs in one, and removing those a test process left behind when it died before its cleanup.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** SIGKILLs every process in `namespace`, until none is left (at most about a second). */
export async function killNamespaceProcesses(namespace: string): Promise<void> {
	for (let attempt = 0; attempt < 50; attempt++) {
		const { stdout } = await run('ip', ['netns', 'pids', namespace]).catch(() => ({ stdout: '' }));
		const pids = stdout.split(/\s+/).filter(Boolean).map(Number);
		if (pids.length === 0) return;
		for (const pid of pids) {
			try {
				process.kill(pid, 'SIGKILL');
			} catch {
				// Gone meanwhile.
			}
		}
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}

/** Whether process `pid` is still there. */
export function isRunning(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}

/** Removes the namespaces named `<prefix><pid>-<n>` whose test process (`pid`) is gone, with what runs in them. */
export async function removeLeftoverNamespaces(prefix: string): Promise<void> {
	const { stdout } = await run('ip', ['netns', 'list']);
	for (const line of stdout.split('\n')) {
		const match = new RegExp(`^(${prefix}(\\d+)-\\d+)\\b`).exec(line);
		if (!match || isRunning(Number(match[2]))) continue;
		await killNamespaceProcesses(match[1]!);
		await run('ip', ['netns', 'del', match[1]!]).catch(() => {});
	}
}
