/**
 * The class roster: who joined (display name, seat) and the last block they ran. Persisted to the
 * state directory, so seats and names survive a gateway restart.
 *
 * Seats are acknowledged state: {@link Roster.join} and {@link Roster.remove} resolve only once the
 * change is on disk (state.ts), and undo it in memory when it cannot be written, so an answered join
 * survives `kill -9` and a refused one leaves no seat behind. The last run is not acknowledged to
 * anyone: it is written in the background, and retried when the disk is full.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { LabError } from '../../src/protocol.ts';
import { parseStateJson, readStateFile, StateFileError, WriteRetry, writeFileAtomic, type StateReporter } from '../state.ts';

/** A student's id: `s` and 12 hex digits (48 random bits), as {@link Roster.join} makes them. */
export const STUDENT_ID = /s[0-9a-f]{12}/;

export const displayName = z
	.string()
	.transform((name) => name.normalize('NFC').replace(/\s+/g, ' ').trim())
	.pipe(
		z
			.string()
			.min(1, 'give a name the trainer will recognise')
			.max(40, 'keep the name under 40 characters')
			.refine((name) => !/[\p{Cc}\p{Cf}<>]/u.test(name), 'the name has characters that cannot be shown'),
	);

const studentSchema = z.strictObject({
	/** Random, not secret (it is in signed cookies, logs and the instructor API). */
	id: z.string().regex(/^s[0-9a-f]{12}$/),
	name: z.string(),
	joinedAt: z.number(),
	lastRun: z.strictObject({ block: z.string(), exit: z.number(), at: z.number() }).nullable(),
});

export type Student = z.infer<typeof studentSchema>;

/** Rosters written before `lastSeen` was dropped still load; the field goes at the next write. */
const studentOnDisk = studentSchema.extend({ lastSeen: z.number().optional() }).transform(({ lastSeen: _, ...student }) => student);
const rosterFile = z.strictObject({ version: z.literal(1), students: z.array(studentOnDisk) });

const DAMAGED_HINT = 'restore it from a backup, or move it away to start an empty class (students then join again)';

export class Roster {
	readonly #path: string;
	readonly #seats: number;
	readonly #students: Map<string, Student>;
	readonly #retry: WriteRetry;
	/** The last write started (settled or not); never rejects. */
	#lastWrite: Promise<void> = Promise.resolve();
	/** A write not started yet: it will hold every change made so far. */
	#nextWrite: Promise<void> | null = null;

	private constructor(path: string, seats: number, students: Student[], reporter: StateReporter | undefined) {
		this.#path = path;
		this.#seats = seats;
		this.#students = new Map(students.map((student) => [student.id, student]));
		this.#retry = new WriteRetry(path, reporter, () => this.#persist());
	}

	/** @throws {StateFileError} when the file exists but is not a roster (it is never overwritten then). */
	static async open(path: string, seats: number, reporter?: StateReporter): Promise<Roster> {
		const text = await readStateFile(path);
		if (text === null) return new Roster(path, seats, [], reporter);
		const parsed = rosterFile.safeParse(parseStateJson(path, text, DAMAGED_HINT));
		if (!parsed.success) throw new StateFileError(path, `not a podlab roster (${parsed.error.issues[0]?.message})`, DAMAGED_HINT);
		return new Roster(path, seats, parsed.data.students, reporter);
	}

	get seats(): number {
		return this.#seats;
	}

	get size(): number {
		return this.#students.size;
	}

	/**
	 * A new student, on disk when this resolves; null when every seat is taken.
	 * @throws {LabError} LAB_ERR_STATE_WRITE when the roster cannot be written (no seat is taken then).
	 */
	async join(name: string): Promise<Student | null> {
		if (this.#students.size >= this.#seats) return null;
		const student: Student = { id: `s${randomBytes(6).toString('hex')}`, name, joinedAt: Date.now(), lastRun: null };
		// Taken at once, so two joins for the last seat cannot both get it.
		this.#students.set(student.id, student);
		try {
			await this.#persist();
		} catch (cause) {
			this.#students.delete(student.id);
			throw new LabError('LAB_ERR_STATE_WRITE', undefined, { cause });
		}
		return student;
	}

	get(id: string): Student | undefined {
		return this.#students.get(id);
	}

	list(): Student[] {
		return [...this.#students.values()].sort((a, b) => a.joinedAt - b.joinedAt);
	}

	/**
	 * Frees the seat, on disk when this resolves; the student's cookie stops working.
	 * @throws {LabError} LAB_ERR_STATE_WRITE when the roster cannot be written (the seat stays taken then).
	 */
	async remove(id: string): Promise<boolean> {
		const student = this.#students.get(id);
		if (!student) return false;
		this.#students.delete(id);
		try {
			await this.#persist();
		} catch (cause) {
			this.#students.set(id, student);
			throw new LabError('LAB_ERR_STATE_WRITE', undefined, { cause });
		}
		return true;
	}

	/** The instructor's "last run ✓/✗": written in the background (retried on failure). */
	recordRun(id: string, block: string, exit: number): void {
		const student = this.#students.get(id);
		if (!student) return;
		student.lastRun = { block, exit, at: Date.now() };
		// A failure is reported and retried by #persist; nobody waits for this one.
		this.#persist().catch(() => {});
	}

	/** Waits for pending writes; the roster is on disk afterwards unless the last write failed. */
	async flush(): Promise<void> {
		this.#retry.stop();
		await this.#lastWrite;
		if (this.#retry.failing) await this.#persist().catch(() => {});
	}

	/**
	 * Resolves once a write that began after this call succeeded. Changes made while a write is in
	 * flight share the next one, so a burst costs two writes, not one per change.
	 */
	#persist(): Promise<void> {
		if (this.#nextWrite) return this.#nextWrite;
		const write = this.#lastWrite.then(async () => {
			this.#nextWrite = null;
			const text = `${JSON.stringify({ version: 1, students: this.list() } satisfies z.input<typeof rosterFile>, null, '\t')}\n`;
			try {
				await writeFileAtomic(this.#path, text);
			} catch (error) {
				this.#retry.failed(error as Error);
				throw error;
			}
			this.#retry.succeeded();
		});
		this.#nextWrite = write;
		this.#lastWrite = write.catch(() => {});
		return write;
	}
}
