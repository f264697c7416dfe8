/**
 * Each student's lab of their own (incus backend) as the roster shows it: name, state, memory in use.
 * `GET /api/instructor/students` carries it (the backend reads each lab's cgroup for it); the live
 * feed's roster, compared twice a second, does not. So the page asks for it now and then, keeps the
 * latest answer per student here, and lays it over every roster the feed sends.
 *
 * No DOM here (unit-tested under Node).
 */
import type { RosterStudent } from '../class-protocol.ts';

export type StudentLab = NonNullable<RosterStudent['lab']>;

export class StudentLabs {
	/** Per student: the lab, or null before they have one. Students without an entry: not known (yet). */
	readonly #labs = new Map<string, StudentLab | null>();

	/** Keeps the labs a roster carries (one from GET /api/instructor/students); a roster without them changes nothing. */
	note(students: readonly RosterStudent[]): void {
		for (const student of students) {
			if (student.lab !== undefined) this.#labs.set(student.id, student.lab);
		}
	}

	/** The students with the latest lab known of each laid over them, where their own roster entry has none. */
	merge(students: readonly RosterStudent[]): RosterStudent[] {
		return students.map((student) => (student.lab === undefined && this.#labs.has(student.id) ? { ...student, lab: this.#labs.get(student.id)! } : student));
	}

	/** Forgets students who left the class (a freed seat). */
	keepOnly(ids: ReadonlySet<string>): void {
		for (const id of this.#labs.keys()) if (!ids.has(id)) this.#labs.delete(id);
	}
}

/** Memory in MiB, as the roster shows it: one decimal below 10 MiB, whole MiB above. */
export function formatMiB(bytes: number): string {
	const mib = bytes / (1024 * 1024);
	return `${mib.toFixed(mib < 10 ? 1 : 0)} MiB`;
}

/** The roster's "Lab" and "Memory" cells for a student's lab (null: none yet). */
export function describeLab(lab: StudentLab | null): { lab: string; memory: string } {
	if (!lab) return { lab: 'none yet', memory: '—' };
	return { lab: `${lab.name} · ${lab.state}`, memory: lab.memoryBytes === null ? '—' : formatMiB(lab.memoryBytes) };
}
