/**
 * The progress board: students × chapters, then a column per exercise. Each chapter's cell shows its
 * blocks in page order, each ✓ (latest run exited 0), ✗ (failed) or · (not run), from the exit
 * statuses the gateway saw; a cell is a button that opens the student's commands in that chapter.
 * An exercise's cell says whether the student's latest check passed, and when.
 */
import type { RosterStudent, TranscriptEntry } from '../class-protocol.ts';
import type { Chapter } from './api.ts';

export type BlockResults = Map<string, { exit: number; at: number }>;

export class BoardView {
	readonly #table: HTMLTableElement;
	readonly #onCell: (student: RosterStudent, chapter: Chapter) => void;
	#chapters: Chapter[];
	#students: RosterStudent[] = [];
	/** Per student, each block's latest run. */
	readonly #results = new Map<string, BlockResults>();
	#drawScheduled = false;

	constructor(table: HTMLTableElement, chapters: Chapter[], onCell: (student: RosterStudent, chapter: Chapter) => void) {
		this.#table = table;
		this.#chapters = chapters;
		this.#onCell = onCell;
		this.#draw();
	}

	/** Only the blocks of the lab's profile (and those every profile shares) are columns' squares. */
	setProfile(profile: string | null): void {
		if (profile === null) return;
		this.#chapters = this.#chapters.map((chapter) => ({
			...chapter,
			blocks: chapter.blocks.filter((block) => block.profile === null || block.profile === profile),
		}));
		this.#scheduleDraw();
	}

	/** Redraws only when the rows change: roster updates come twice a second while anyone types. */
	setStudents(students: RosterStudent[]): void {
		const rows = (list: RosterStudent[]) => JSON.stringify(list.map((student) => [student.id, student.name]));
		const changed = rows(students) !== rows(this.#students);
		this.#students = students;
		if (changed) this.#scheduleDraw();
	}

	/** The whole board (at connect): replaces what is known. */
	setProgress(progress: Array<{ id: string; blocks: Record<string, { exit: number; at: string }> }>): void {
		this.#results.clear();
		for (const student of progress) {
			this.#results.set(student.id, new Map(Object.entries(student.blocks).map(([block, run]) => [block, { exit: run.exit, at: Date.parse(run.at) }])));
		}
		this.#scheduleDraw();
	}

	/** One run as it happens. Commands typed at the prompt have no block and leave the squares alone. */
	addRun(run: TranscriptEntry): void {
		if (run.block === null) return;
		const results = this.#results.get(run.student) ?? new Map();
		results.set(run.block, { exit: run.exit, at: Date.parse(run.at) });
		this.#results.set(run.student, results);
		this.#scheduleDraw();
	}

	#scheduleDraw(): void {
		if (this.#drawScheduled) return;
		this.#drawScheduled = true;
		requestAnimationFrame(() => {
			this.#drawScheduled = false;
			this.#draw();
		});
	}

	#draw(): void {
		// Keep the keyboard where it was: the cell with focus is drawn anew.
		const focused = (document.activeElement as HTMLElement | null)?.dataset?.cell;
		const head = document.createElement('thead');
		const headRow = head.insertRow();
		const corner = document.createElement('th');
		corner.scope = 'col';
		corner.textContent = 'Student';
		headRow.append(corner);
		for (const chapter of this.#chapters) {
			const th = document.createElement('th');
			th.scope = 'col';
			const link = document.createElement('a');
			link.href = chapter.href;
			link.target = '_blank';
			link.textContent = chapter.title;
			th.append(link);
			headRow.append(th);
		}
		for (const { chapter, exercise } of this.#exercises()) {
			const th = document.createElement('th');
			th.scope = 'col';
			th.className = 'exercise';
			th.textContent = exercise.title;
			th.title = `${chapter.title}: exercise`;
			headRow.append(th);
		}
		const body = document.createElement('tbody');
		for (const student of this.#students) {
			const row = body.insertRow();
			const name = document.createElement('th');
			name.scope = 'row';
			name.textContent = student.name;
			row.append(name);
			const results = this.#results.get(student.id);
			for (const chapter of this.#chapters) row.insertCell().append(this.#cell(student, chapter, results));
			for (const { exercise } of this.#exercises()) this.#exerciseCell(row.insertCell(), exercise, results?.get(`exercise:${exercise.id}`));
		}
		if (this.#students.length === 0) {
			const cell = body.insertRow().insertCell();
			cell.colSpan = this.#chapters.length + this.#exercises().length + 1;
			cell.textContent = 'No student has joined yet.';
		}
		this.#table.replaceChildren(head, body);
		if (focused) this.#table.querySelector<HTMLElement>(`[data-cell="${CSS.escape(focused)}"]`)?.focus();
	}

	#cell(student: RosterStudent, chapter: Chapter, results: BlockResults | undefined): HTMLButtonElement {
		const button = document.createElement('button');
		button.type = 'button';
		button.className = 'cell';
		button.dataset.cell = `${student.id}|${chapter.slug}`;
		let ok = 0;
		let failed = 0;
		for (const block of chapter.blocks) {
			const result = results?.get(block.id);
			const mark = document.createElement('span');
			mark.className = `mark ${result ? (result.exit === 0 ? 'ok' : 'fail') : 'none'}`;
			mark.textContent = result ? (result.exit === 0 ? '✓' : '✗') : '·';
			mark.title = `${block.id}: ${block.summary}`;
			button.append(mark);
			if (result?.exit === 0) ok++;
			else if (result) failed++;
		}
		button.dataset.ok = String(ok);
		button.dataset.failed = String(failed);
		button.setAttribute(
			'aria-label',
			`${student.name}, ${chapter.title}: ${ok + failed} of ${chapter.blocks.length} blocks run${failed ? `, ${failed} failed` : ''}. Show commands.`,
		);
		button.addEventListener('click', () => this.#onCell(student, chapter));
		return button;
	}

	/** Every chapter's exercises, in reading order. */
	#exercises(): Array<{ chapter: Chapter; exercise: Chapter['exercises'][number] }> {
		return this.#chapters.flatMap((chapter) => chapter.exercises.map((exercise) => ({ chapter, exercise })));
	}

	/** ✓ and the time of the check that passed, ✗ for a check that has not yet, · before any. */
	#exerciseCell(cell: HTMLTableCellElement, exercise: Chapter['exercises'][number], result: { exit: number; at: number } | undefined): void {
		cell.className = 'exercise';
		const mark = document.createElement('span');
		mark.className = `mark ${result ? (result.exit === 0 ? 'ok' : 'fail') : 'none'}`;
		mark.textContent = result ? (result.exit === 0 ? '✓' : '✗') : '·';
		cell.append(mark);
		if (result) cell.append(` ${clock(result.at)}`);
		cell.dataset.exercise = exercise.id;
		cell.dataset.state = result ? (result.exit === 0 ? 'solved' : 'not-yet') : 'none';
		cell.title = `${exercise.title}: ${result ? (result.exit === 0 ? `solved at ${clock(result.at)}` : `not yet (checked at ${clock(result.at)})`) : 'not checked'}`;
	}
}

/** When a check passed, in the instructor's clock. */
const clock = (at: number) => new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/** The runs of a transcript that belong to a chapter: its blocks, and commands typed while on its page. */
export function runsInChapter(runs: TranscriptEntry[], chapter: Chapter): TranscriptEntry[] {
	return runs.filter((run) => (run.block !== null ? run.block.startsWith(`${chapter.slug}:`) : run.page === chapter.href || run.page === chapter.href.replace(/\/$/, '')));
}
