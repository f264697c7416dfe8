/**
 * Linux process facts read from /proc: which processes belong to a terminal's session, and which
 * process group is in the terminal's foreground.
 */
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';

interface ProcStat {
	pid: number;
	/** One letter: R running, S sleeping, Z zombie (exited, not yet reaped), … */
	state: string;
	parent: number;
	processGroup: number;
	session: number;
	/** Foreground process group of the controlling terminal. */
	terminalProcessGroup: number;
}

/** Fields of /proc/PID/stat; null when the process is gone. */
export async function readProcStat(pid: number): Promise<ProcStat | null> {
	let text: string;
	try {
		text = await readFile(`/proc/${pid}/stat`, 'latin1');
	} catch {
		return null;
	}
	// The command name may contain spaces and parentheses: the fields start after the last ")".
	const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
	return {
		pid,
		state: fields[0] ?? '?',
		parent: Number(fields[1]),
		processGroup: Number(fields[2]),
		session: Number(fields[3]),
		terminalProcessGroup: Number(fields[5]),
	};
}

/** Every live (not zombie) process whose session id is `session` (the terminal's session leader's pid). */
export async function sessionMembers(session: number): Promise<number[]> {
	const entries = await readdir('/proc');
	const stats = await Promise.all(entries.filter((name) => /^\d+$/.test(name)).map((name) => readProcStat(Number(name))));
	return stats.filter((stat) => stat !== null && stat.session === session && stat.state !== 'Z').map((stat) => stat!.pid);
}

/** Sends `signal` to every process in the session; returns how many were signalled. */
export async function signalSession(session: number, signal: NodeJS.Signals): Promise<number> {
	const members = await sessionMembers(session);
	let signalled = 0;
	for (const pid of members) {
		try {
			process.kill(pid, signal);
			signalled++;
		} catch {
			// Already gone: that is what we wanted.
		}
	}
	return signalled;
}

/** True while the process exists and is not a zombie waiting to be reaped. */
export function isAlive(pid: number): boolean {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
		return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
	} catch {
		return false;
	}
}
