/**
 * Sticky student → lab host assignments for the ssh backend. A student keeps their host for as long
 * as it stays in the pool, across reconnects and gateway restarts: their tmux shells live there. The
 * assignments are a small JSON file, replaced atomically on every change (state.ts), so a crash
 * leaves either the old file or the new one, never half of one.
 */
import { constants } from 'node:fs';
import { access, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { LabError } from '../../../src/protocol.ts';
import { writeFileAtomic } from '../../state.ts';

const assignmentsFile = z.strictObject({
	version: z.literal(1),
	assignments: z.record(z.string(), z.strictObject({ host: z.string(), assignedAt: z.iso.datetime() })),
});

export interface HostAssignment {
	student: string;
	/** The host's `user@host:port` spec, as in the pool. */
	host: string;
	assignedAt: string;
}

/** Every host of the pool has as many students as it may take. */
export class PoolFullError extends LabError {
	constructor() {
		super('LAB_ERR_POOL_FULL');
		this.name = 'PoolFullError';
	}
}

export interface HostPool {
	/** Host specs, in the order a new student is offered them. */
	hosts: readonly string[];
	studentsPerHost: number;
}

export class HostAssignments {
	readonly #file: string;
	readonly #pool: HostPool;
	readonly #assignments: Map<string, { host: string; assignedAt: string }>;
	/** Writes run one after another; each writes the state of its moment. */
	#writes: Promise<void> = Promise.resolve();

	private constructor(file: string, pool: HostPool, assignments: Map<string, { host: string; assignedAt: string }>) {
		this.#file = file;
		this.#pool = pool;
		this.#assignments = assignments;
	}

	/**
	 * Loads the assignments (none when the file does not exist yet) and checks that the file can be written.
	 * @throws {Error} naming the file and what to do when it cannot be read, parsed or written.
	 */
	static async open(file: string, pool: HostPool): Promise<HostAssignments> {
		let text: string | null = null;
		try {
			text = await readFile(file, 'utf8');
		} catch (cause) {
			if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') {
				throw new Error(`host assignments: cannot read ${file}: ${(cause as Error).message}`, { cause });
			}
		}
		const assignments = new Map<string, { host: string; assignedAt: string }>();
		if (text !== null) {
			let parsed: z.infer<typeof assignmentsFile>;
			try {
				parsed = assignmentsFile.parse(JSON.parse(text));
			} catch (cause) {
				// Never start over silently: students would land on other hosts, away from their shells.
				throw new Error(
					`host assignments: ${file} is not a podlab assignments file (${(cause as Error).message.split('\n')[0]}); fix it, or move it away to assign hosts afresh`,
					{ cause },
				);
			}
			for (const [student, entry] of Object.entries(parsed.assignments)) assignments.set(student, entry);
		}
		const directory = dirname(file);
		try {
			await mkdir(directory, { recursive: true, mode: 0o700 });
			await access(directory, constants.W_OK);
		} catch (cause) {
			throw new Error(`host assignments: cannot write to ${directory} (${(cause as Error).message}); choose another file or fix the directory's permissions`, {
				cause,
			});
		}
		return new HostAssignments(file, pool, assignments);
	}

	/** The host a student has now (it may have left the pool since), if any. */
	hostOf(student: string): string | undefined {
		return this.#assignments.get(student)?.host;
	}

	list(): HostAssignment[] {
		return [...this.#assignments].map(([student, entry]) => ({ student, ...entry }));
	}

	/** Students on each host of the pool. */
	load(): Map<string, number> {
		const counts = new Map(this.#pool.hosts.map((host) => [host, 0]));
		for (const { host } of this.#assignments.values()) if (counts.has(host)) counts.set(host, counts.get(host)! + 1);
		return counts;
	}

	/**
	 * The student's host: the one they had if it is still in the pool, else the least-taken host with
	 * room (pool order breaks ties). Resolves once the assignment is on disk.
	 * @throws {PoolFullError} when no host has room.
	 */
	async assign(student: string): Promise<string> {
		const current = this.#assignments.get(student);
		if (current && this.#pool.hosts.includes(current.host)) {
			// Another spawn may still be writing it: answer once it is on disk.
			await this.#writes;
			return current.host;
		}
		// Chosen and recorded before any await, so two terminals of a new student get the same host.
		let chosen: string | null = null;
		let fewest = this.#pool.studentsPerHost;
		for (const [host, count] of this.load()) {
			if (count < fewest) {
				chosen = host;
				fewest = count;
			}
		}
		if (!chosen) throw new PoolFullError();
		const entry = { host: chosen, assignedAt: new Date().toISOString() };
		this.#assignments.set(student, entry);
		try {
			await this.#save();
		} catch (error) {
			if (this.#assignments.get(student) === entry) {
				if (current) this.#assignments.set(student, current);
				else this.#assignments.delete(student);
			}
			throw error;
		}
		return chosen;
	}

	/** Frees the student's seat (the instructor's "free a seat"). Resolves once that is on disk. */
	async release(student: string): Promise<boolean> {
		if (!this.#assignments.delete(student)) return false;
		await this.#save();
		return true;
	}

	#save(): Promise<void> {
		const write = this.#writes.then(() => writeFileAtomic(this.#file, this.#serialize()));
		this.#writes = write.catch(() => {});
		return write.catch((cause: Error) => {
			throw new Error(`host assignments: cannot save ${this.#file}: ${cause.message}`, { cause });
		});
	}

	#serialize(): string {
		const assignments = Object.fromEntries([...this.#assignments].sort(([a], [b]) => a.localeCompare(b)));
		return `${JSON.stringify({ version: 1, assignments } satisfies z.infer<typeof assignmentsFile>, null, '\t')}\n`;
	}
}
