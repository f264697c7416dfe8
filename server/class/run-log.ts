/**
 * Every command line a student ran, a Run block or typed, with its exit status and time: the
 * instructor's progress board (blocks only) and the students' transcripts. An append-only JSON-lines
 * file in the state directory, read back at start, so a gateway restart keeps the class's progress.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { z } from 'zod';

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
	#writing: Promise<void> = Promise.resolve();

	private constructor(path: string, entries: RunEntry[]) {
		this.#path = path;
		this.#entries = entries;
	}

	/** Reads the log; a line cut short by a crash is skipped, anything else malformed is an error. */
	static async open(path: string): Promise<RunLog> {
		const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
			if (error.code === 'ENOENT') return '';
			throw error;
		});
		const lines = text.split('\n');
		const entries: RunEntry[] = [];
		for (const [index, line] of lines.entries()) {
			if (line === '') continue;
			let parsed;
			try {
				parsed = entrySchema.safeParse(JSON.parse(line));
			} catch {
				if (index === lines.length - 1) continue;
				throw new Error(`${path}, line ${index + 1}: not JSON; move the file away to start an empty log`);
			}
			if (!parsed.success) throw new Error(`${path}, line ${index + 1}: not a run entry (${parsed.error.issues[0]?.message})`);
			entries.push(parsed.data);
		}
		return new RunLog(path, entries);
	}

	record(entry: RunEntry): void {
		this.#entries.push(entry);
		const line = `${JSON.stringify(entry)}\n`;
		// One append per run, in order; a single write of a short line is not interleaved.
		this.#writing = this.#writing.then(() => appendFile(this.#path, line, { mode: 0o600 }));
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

	async flush(): Promise<void> {
		await this.#writing;
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
