/**
 * The instructor API's answers (src/class-protocol.ts), made from the roster, the reader registry and
 * the run log: the roster as the instructor sees it, the progress board, transcript entries.
 */
import type { ProgressResponse, RosterResponse, RosterStudent, TranscriptEntry } from '../../src/class-protocol.ts';
import type { StudentLabStatus } from '../backends/backend.ts';
import type { ReaderRegistry } from '../readers.ts';
import type { Roster } from './roster.ts';
import type { RunEntry, RunLog } from './run-log.ts';

export interface RosterViewSources {
	roster: Pick<Roster, 'size' | 'seats' | 'list'>;
	readers: Pick<ReaderRegistry, 'peekStudent'>;
	/** The lab host a student's terminals run on, when the backend assigns hosts. */
	hostOf?: (studentId: string) => string | null;
}

/** The roster as the instructor sees it: who, where, how active, what ran last, which terminals. */
export function rosterView({ roster, readers, hostOf }: RosterViewSources): RosterResponse {
	return {
		seats: { taken: roster.size, total: roster.seats },
		students: roster.list().map((student) => {
			const reader = readers.peekStudent(student.id);
			return {
				id: student.id,
				name: student.name,
				joinedAt: new Date(student.joinedAt).toISOString(),
				// Keystrokes and runs, not page loads: "idle" means not working in the lab.
				lastActivity: new Date(Math.max(student.joinedAt, student.lastRun?.at ?? 0, reader?.lastActivity ?? 0)).toISOString(),
				lastRun: student.lastRun && { ...student.lastRun, at: new Date(student.lastRun.at).toISOString() },
				labHost: hostOf?.(student.id) ?? null,
				page: reader?.page ?? null,
				connected: (reader?.sockets ?? 0) > 0,
				terminals: reader ? [...reader.terminals.values()].map((terminal) => ({ name: terminal.name, busy: terminal.busy })) : [],
			};
		}),
	};
}

/** The roster with each student's lab of their own, asked of the backend (it reads the lab's cgroup); a lab that cannot be read shows as none. */
export async function withLabs(view: RosterResponse, labStatusOf: (studentId: string) => Promise<StudentLabStatus | null>): Promise<RosterResponse> {
	const students = await Promise.all(
		view.students.map(async (student): Promise<RosterStudent> => {
			const lab = await labStatusOf(student.id).catch(() => null);
			return { ...student, lab: lab && { ...lab } };
		}),
	);
	return { ...view, students };
}

/** Per student, each block's latest run. */
export function progressView(roster: Pick<Roster, 'list'>, runLog: Pick<RunLog, 'progress'>): ProgressResponse {
	const board = runLog.progress();
	return {
		students: roster.list().map((student) => ({
			id: student.id,
			name: student.name,
			blocks: Object.fromEntries(
				[...(board.get(student.id) ?? new Map<string, { exit: number; at: number }>())].map(([block, run]) => [block, { exit: run.exit, at: new Date(run.at).toISOString() }]),
			),
		})),
	};
}

/** A run as the instructor API sends it (ISO time). */
export function transcriptEntryOf(run: RunEntry): TranscriptEntry {
	return { ...run, at: new Date(run.at).toISOString() };
}
