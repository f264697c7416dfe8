/**
 * The roster: one card per student — name, state (active, idle for N minutes, offline), their lab
 * of their own (name, state, memory in use) or lab host, current page, last block run with ✓/✗ — and
 * a live thumbnail of their `main` terminal. Cards are
 * kept across updates (a thumbnail's connection lives as long as the student has that terminal).
 */
import type { RosterStudent } from '../class-protocol.ts';
import type { Chapter } from './api.ts';
import { describeLab } from './student-labs.ts';
import { pageTitle, studentState } from './student-state.ts';
import { StudentScreen } from './student-screen.ts';

const THUMBNAIL_TERMINAL = 'main';

interface Card {
	item: HTMLLIElement;
	open: HTMLButtonElement;
	state: HTMLElement;
	details: HTMLElement;
	thumbnail: HTMLPreElement;
	screen: StudentScreen | null;
	student: RosterStudent;
	/** What the card shows now, to skip redrawing it when nothing it shows changed. */
	shown: string;
}

export class RosterView {
	readonly #list: HTMLUListElement;
	readonly #empty: HTMLElement;
	readonly #chapters: Chapter[];
	readonly #onOpen: (student: RosterStudent) => void;
	readonly #cards = new Map<string, Card>();

	constructor(list: HTMLUListElement, empty: HTMLElement, chapters: Chapter[], onOpen: (student: RosterStudent) => void) {
		this.#list = list;
		this.#empty = empty;
		this.#chapters = chapters;
		this.#onOpen = onOpen;
	}

	update(students: RosterStudent[]): void {
		const seen = new Set<string>();
		for (const [index, student] of students.entries()) {
			seen.add(student.id);
			let card = this.#cards.get(student.id);
			if (!card) {
				card = this.#createCard(student);
				this.#cards.set(student.id, card);
			}
			card.student = student;
			if (this.#list.children[index] !== card.item) this.#list.insertBefore(card.item, this.#list.children[index] ?? null);
			// Activity moves with every keystroke; the card shows it only as a state, redrawn apart.
			const shown = JSON.stringify({ ...student, lastActivity: undefined });
			if (shown !== card.shown) {
				card.shown = shown;
				this.#render(card);
			}
			this.#renderState(card);
		}
		for (const [id, card] of this.#cards) {
			if (seen.has(id)) continue;
			card.screen?.dispose();
			card.item.remove();
			this.#cards.delete(id);
		}
		this.#empty.hidden = students.length > 0;
	}

	/**
	 * Idle minutes move on without any event; and a thumbnail whose terminal ended and came back
	 * between two roster updates (so the roster looked the same) is watched again.
	 */
	refreshStates(): void {
		for (const card of this.#cards.values()) {
			this.#renderState(card);
			this.#syncThumbnail(card);
		}
	}

	/** How many thumbnails are connected (the benchmark's and tests' view of the page). */
	get watching(): number {
		return [...this.#cards.values()].filter((card) => card.screen?.status.state === 'connected').length;
	}

	#createCard(student: RosterStudent): Card {
		const item = document.createElement('li');
		item.className = 'student';
		item.dataset.student = student.id;
		const head = document.createElement('div');
		head.className = 'student-head';
		const open = document.createElement('button');
		open.type = 'button';
		open.className = 'student-name';
		open.addEventListener('click', () => this.#onOpen(this.#cards.get(student.id)!.student));
		const state = document.createElement('span');
		state.className = 'state';
		head.append(open, state);
		const details = document.createElement('dl');
		details.className = 'student-details';
		const thumbnail = document.createElement('pre');
		thumbnail.className = 'thumbnail';
		thumbnail.setAttribute('aria-hidden', 'true');
		thumbnail.dataset.thumbnail = '';
		// The thumbnail opens the live view too (with the mouse; the name button is the keyboard's way).
		thumbnail.addEventListener('click', () => this.#onOpen(this.#cards.get(student.id)!.student));
		item.append(head, details, thumbnail);
		return { item, open, state, details, thumbnail, screen: null, student, shown: '' };
	}

	#render(card: Card): void {
		const { student } = card;
		card.open.textContent = student.name;
		card.open.setAttribute('aria-label', `${student.name}: open the live view`);
		const lastRun = student.lastRun
			? `${student.lastRun.exit === 0 ? '✓' : '✗'} ${student.lastRun.block.replace(/^chapters\//, '')}${student.lastRun.exit === 0 ? '' : ` (exit ${student.lastRun.exit})`}`
			: '—';
		// A backend with labs of one's own says which (incus); the others may give a lab host (ssh).
		const lab = student.lab === undefined ? null : describeLab(student.lab);
		const rows: Array<[string, string, string?]> = [
			['Page', pageTitle(student.page, this.#chapters)],
			['Last run', lastRun, student.lastRun ? (student.lastRun.exit === 0 ? 'ok' : 'fail') : undefined],
			...(lab
				? ([
						['Lab', lab.lab, 'lab'],
						['Memory', lab.memory, 'memory'],
					] as Array<[string, string, string]>)
				: ([['Lab host', student.labHost ?? 'this machine']] as Array<[string, string]>)),
			['Terminals', student.terminals.map((terminal) => `${terminal.name}${terminal.busy ? ' (busy)' : ''}`).join(', ') || 'none'],
		];
		card.details.replaceChildren(
			...rows.flatMap(([term, value, kind]) => {
				const dt = document.createElement('dt');
				dt.textContent = term;
				const dd = document.createElement('dd');
				dd.textContent = value;
				if (kind) dd.className = kind;
				return [dt, dd];
			}),
		);
		this.#syncThumbnail(card);
	}

	#renderState(card: Card): void {
		const state = studentState(card.student);
		if (card.state.textContent === state.label) return;
		card.state.textContent = state.label;
		card.state.dataset.state = state.kind;
	}

	/** Watches `main` while the student has it; a new shell after an end is watched again. */
	#syncThumbnail(card: Card): void {
		const hasMain = card.student.terminals.some((terminal) => terminal.name === THUMBNAIL_TERMINAL);
		if (!hasMain) {
			card.screen?.dispose();
			card.screen = null;
			card.thumbnail.textContent = '';
			card.thumbnail.dataset.empty = 'no terminal yet';
			return;
		}
		delete card.thumbnail.dataset.empty;
		if (!card.screen) {
			card.screen = new StudentScreen({ student: card.student.id, term: THUMBNAIL_TERMINAL, thumbnail: card.thumbnail });
		} else {
			card.screen.reconnect();
		}
	}
}
