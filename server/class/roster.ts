/**
 * The class roster: who joined (display name, seat), when they were last active, and the last block
 * they ran. Persisted to the state directory, so seats and names survive a gateway restart.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { writeFileAtomic } from '../state.ts';

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
	lastSeen: z.number(),
	lastRun: z.strictObject({ block: z.string(), exit: z.number(), at: z.number() }).nullable(),
});

const rosterFile = z.strictObject({ version: z.literal(1), students: z.array(studentSchema) });

export type Student = z.infer<typeof studentSchema>;

export class Roster {
	readonly #path: string;
	readonly #seats: number;
	readonly #students: Map<string, Student>;
	#saving: Promise<void> = Promise.resolve();
	#saveScheduled = false;

	private constructor(path: string, seats: number, students: Student[]) {
		this.#path = path;
		this.#seats = seats;
		this.#students = new Map(students.map((student) => [student.id, student]));
	}

	/** @throws when the file exists but is not a roster (it is never overwritten then). */
	static async open(path: string, seats: number): Promise<Roster> {
		const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
			if (error.code === 'ENOENT') return null;
			throw error;
		});
		if (text === null) return new Roster(path, seats, []);
		const parsed = rosterFile.safeParse(JSON.parse(text));
		if (!parsed.success) throw new Error(`${path} is not a podlab roster (${parsed.error.issues[0]?.message}); move it away to start an empty class`);
		return new Roster(path, seats, parsed.data.students);
	}

	get seats(): number {
		return this.#seats;
	}

	get size(): number {
		return this.#students.size;
	}

	/** A new student, or null when every seat is taken. */
	join(name: string): Student | null {
		if (this.#students.size >= this.#seats) return null;
		const now = Date.now();
		const student: Student = { id: `s${randomBytes(6).toString('hex')}`, name, joinedAt: now, lastSeen: now, lastRun: null };
		this.#students.set(student.id, student);
		this.#save();
		return student;
	}

	get(id: string): Student | undefined {
		return this.#students.get(id);
	}

	list(): Student[] {
		return [...this.#students.values()].sort((a, b) => a.joinedAt - b.joinedAt);
	}

	/** Frees the seat; the student's cookie stops working. */
	remove(id: string): boolean {
		const removed = this.#students.delete(id);
		if (removed) this.#save();
		return removed;
	}

	seen(id: string): void {
		const student = this.#students.get(id);
		if (!student) return;
		student.lastSeen = Date.now();
		this.#save();
	}

	recordRun(id: string, block: string, exit: number): void {
		const student = this.#students.get(id);
		if (!student) return;
		student.lastRun = { block, exit, at: Date.now() };
		student.lastSeen = student.lastRun.at;
		this.#save();
	}

	/** Waits for pending writes. */
	async flush(): Promise<void> {
		await this.#saving;
	}

	/** Coalesces bursts of changes into one write. */
	#save(): void {
		if (this.#saveScheduled) return;
		this.#saveScheduled = true;
		this.#saving = this.#saving.then(async () => {
			await new Promise((resolve) => setTimeout(resolve, 100));
			this.#saveScheduled = false;
			await writeFileAtomic(this.#path, `${JSON.stringify({ version: 1, students: this.list() }, null, '\t')}\n`);
		});
	}
}
