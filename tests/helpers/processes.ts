/** What tests check about processes: which are alive, their memory, the gateway's log of terminals. */
import { readFileSync } from 'node:fs';
import { sessionMembers } from '../../server/process-tree.ts';
import type { RunningGateway } from './gateway.ts';

export { sessionMembers };

/** Pids of the terminals the gateway logged as started, in order. */
export function terminalPids(gateway: RunningGateway): number[] {
	return logEntries(gateway)
		.filter((entry) => entry.msg === 'terminal started')
		.map((entry) => entry.pid as number);
}

export function logEntries(gateway: RunningGateway): Array<Record<string, unknown>> {
	return gateway
		.logs()
		.split('\n')
		.filter((line) => line.startsWith('{'))
		.map((line) => JSON.parse(line));
}

/** Resident memory of a process, in bytes. */
export function rssBytes(pid: number): number {
	const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
	return Number(match![1]) * 1024;
}

/** Pids (in the given session) whose command name is `name`. */
export async function sessionProcessesNamed(session: number, name: string): Promise<number[]> {
	const pids = await sessionMembers(session);
	return pids.filter((pid) => {
		try {
			return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === name;
		} catch {
			return false;
		}
	});
}

/** Polls `check` every 20 ms until it returns true; resolves with the time it took, rejects at `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
	const started = performance.now();
	while (performance.now() - started < timeoutMs) {
		if (await check()) return performance.now() - started;
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
	throw new Error(`not within ${timeoutMs} ms: ${what}`);
}
