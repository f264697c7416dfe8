/**
 * Every command line a student ran, a Run block or typed, with its exit status and time: the
 * instructor's progress board (blocks only) and the students' transcripts. An append-only JSON-lines
 * file in the state directory, read back at start, so a gateway restart keeps the class's progress.
 *
 * Runs are not acknowledged to anyone, so they are appended in the background. An append that fails
 * (a full disk) is cut back off the file, so no torn line is left in the middle of it, reported, and
 * retried with every run recorded since, in order.
 */
import { open, stat, truncate } from 'node:fs/promises';
import { z } from 'zod';
import { readStateFile, StateFileError, WriteRetry, type StateReporter } from '../state.ts';

const entrySchema = z.strictObject({
	student: z.string(),
	/** The Run block's id; null for a command the student typed. */
	block: z.string().nullable(),
	/**
	 * The block's code or the typed command line. Logs written before typed commands were recorded
	 * lack it.
	 * @default ''
	 */
	command: z.string().default(''),
	/**
	 * The site path the student was on, when known.
	 * @default null
	 */
	page: z.string().nullable().default(null),
	term: z.string(),
	exit: z.number().int(),
	/** Epoch ms. */
	at: z.number(),
});

export type RunEntry = z.infer<typeof entrySchema>;

export class RunLog {
	readonly #path: string;
	readonly #entries: RunEntry[];
	readonly #retry: WriteRetry;
	/** Lines recorded but not yet on disk, oldest first. */
	#pending: string[] = [];
	/** The file's size after the last append that succeeded. */
	#size: number;
	#writing: Promise<void> = Promise.resolve();

	private constructor(path: string, entries: RunEntry[], size: number, reporter: StateReporter | undefined) {
		this.#path = path;
		this.#entries = entries;
		this.#size = size;
		this.#retry = new WriteRetry(path, reporter, () => (this.#writing = this.#writing.then(() => this.#drain())));
	}

	/**
	 * Reads the log; a line cut short by a crash is skipped, anything else malformed is an error.
	 * @throws {StateFileError} naming the file and the line.
	 */
	static async open(path: string, reporter?: StateReporter): Promise<RunLog> {
		const text = (await readStateFile(path)) ?? '';
		const lines = text.split('\n');
		const entries: RunEntry[] = [];
		for (const [index, line] of lines.entries()) {
			if (line === '') continue;
			let parsed;
			try {
				parsed = entrySchema.safeParse(JSON.parse(line));
			} catch {
				if (index === lines.length - 1) continue;
				throw new StateFileError(`${path}, line ${index + 1}`, 'not JSON', 'move the file away to start an empty log');
			}
			if (!parsed.success) {
				throw new StateFileError(`${path}, line ${index + 1}`, `not a run entry (${parsed.error.issues[0]?.message})`, 'move the file away to start an empty log');
			}
			entries.push(parsed.data);
		}
		const size = await stat(path).then((info) => info.size, () => 0);
		return new RunLog(path, entries, size, reporter);
	}

	record(entry: RunEntry): void {
		this.#entries.push(entry);
		this.#pending.push(`${JSON.stringify(entry)}\n`);
		// After a failure the retry timer drains; appending meanwhile would only fail again.
		if (!this.#retry.failing) this.#writing = this.#writing.then(() => this.#drain());
	}

	of(student: string): RunEntry[] {
		return this.#entries.filter((entry) => entry.student === student);
	}

	/** Per student, each block's latest run (typed commands are not on the board). */
	progress(): Map<string, Map<string, { exit: number; at: number }>> {
		const board = new Map<string, Map<string, { exit: number; at: number }>>();
		for (const entry of this.#entries) {
			if (entry.block === null) continue;
			const row = board.get(entry.student) ?? new Map();
			row.set(entry.block, { exit: entry.exit, at: entry.at });
			board.set(entry.student, row);
		}
		return board;
	}

	/** Waits for pending appends (one more try after a failure). */
	async flush(): Promise<void> {
		this.#retry.stop();
		await (this.#writing = this.#writing.then(() => this.#drain()));
	}

	/** Appends every pending line, in order; never rejects (failures go to the retry). Runs one at a time, on #writing. */
	async #drain(): Promise<void> {
		while (this.#pending.length > 0) {
			if (!(await this.#appendPending())) return;
		}
	}

	async #appendPending(): Promise<boolean> {
		const lines = this.#pending;
		this.#pending = [];
		const data = lines.join('');
		try {
			const handle = await open(this.#path, 'a', 0o600);
			try {
				await handle.writeFile(data);
			} finally {
				await handle.close();
			}
			this.#size += Buffer.byteLength(data);
			this.#retry.succeeded();
			return true;
		} catch (error) {
			// Part of the lines may have reached the file: cut it back, or the next start would find a torn line.
			await truncate(this.#path, this.#size).catch(() => {});
			this.#pending = [...lines, ...this.#pending];
			this.#retry.failed(error as Error);
			return false;
		}
	}
}

/**
 * A transcript as CSV (RFC 4180 quoting), for a spreadsheet. A cell that a spreadsheet would read as
 * a formula (a command such as `=cmd|…` or `-x`) gets a leading apostrophe, so it stays text.
 */
export function transcriptCsv(entries: RunEntry[]): string {
	const cell = (value: string) => {
		const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
		return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
	};
	const rows = entries.map((entry) =>
		[new Date(entry.at).toISOString(), entry.page ?? '', entry.block ?? '', entry.term, String(entry.exit), entry.command].map(cell).join(','),
	);
	return `time,page,block,terminal,exit,command\n${rows.join('\n')}${rows.length ? '\n' : ''}`;
}
