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
	return parseProcStat(pid, await readFile(`/proc/${pid}/stat`, 'latin1').catch(gone));
}

function readProcStatSync(pid: number): ProcStat | null {
	let text: string | null;
	try {
		text = readFileSync(`/proc/${pid}/stat`, 'latin1');
	} catch (error) {
		text = gone(error);
	}
	return parseProcStat(pid, text);
}

/** A process that exited between listing and reading is no error; anything else is. */
function gone(error: unknown): null {
	const code = (error as NodeJS.ErrnoException).code;
	if (code === 'ENOENT' || code === 'ESRCH') return null;
	throw error;
}

function parseProcStat(pid: number, text: string | null): ProcStat | null {
	if (text === null) return null;
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

/**
 * Every live (not zombie) process whose session id is `session` (the terminal's session leader's
 * pid). Read synchronously, one small file at a time: many terminals ending at once must not open
 * thousands of files together (a concurrent scan per terminal ran into the descriptor limit).
 */
export async function sessionMembers(session: number): Promise<number[]> {
	const members: number[] = [];
	for (const name of await readdir('/proc')) {
		if (!/^\d+$/.test(name)) continue;
		const stat = readProcStatSync(Number(name));
		if (stat && stat.session === session && stat.state !== 'Z') members.push(stat.pid);
	}
	return members;
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
