/**
 * The live view of one student: every terminal they have, mirrored as it happens (one tab each),
 * read-only until the instructor presses Take over (the student's panel then says the instructor
 * is typing). Closing the view closes its sockets, which hands any taken-over terminal back.
 * Also here: transcripts, ending the student's terminals, freeing the seat, resetting their lab.
 */
import { injectXtermStyles } from '../terminal/view/xterm-styles.ts';
import type { RosterStudent } from '../class-protocol.ts';
import { endStudent, resetStudentLab, transcriptUrl } from './api.ts';
import { StudentScreen } from './student-screen.ts';
import { onTabArrows } from './tabs.ts';

interface Screen {
	tab: HTMLButtonElement;
	panel: HTMLDivElement;
	screen: StudentScreen;
}

export class LiveView {
	readonly #dialog: HTMLDialogElement;
	readonly #tabs: HTMLElement;
	readonly #screens: HTMLElement;
	readonly #takeover: HTMLButtonElement;
	readonly #status: HTMLElement;
	readonly #open = new Map<string, Screen>();
	#student: RosterStudent | null = null;
	#selected: string | null = null;
	#takenOver = false;
	readonly #pageTitle: (path: string) => string;
	readonly #resetButton: HTMLButtonElement;
	/** The outcome of a reset (the status line above is the terminals' own, rewritten as they reconnect). */
	readonly #resetResult: HTMLElement;
	readonly #onLabReset: () => void;

	/**
	 * `pageTitle`: a site path as the instructor knows it (a chapter's title). `onLabReset`: a student's
	 * lab was replaced (the roster's lab changes).
	 */
	constructor(dialog: HTMLDialogElement, pageTitle: (path: string) => string, onLabReset: () => void) {
		this.#dialog = dialog;
		this.#pageTitle = pageTitle;
		this.#onLabReset = onLabReset;
		this.#resetButton = dialog.querySelector('[data-reset-lab]')!;
		this.#resetResult = dialog.querySelector('[data-reset-result]')!;
		this.#tabs = dialog.querySelector('[data-live-tabs]')!;
		this.#screens = dialog.querySelector('[data-live-screens]')!;
		this.#takeover = dialog.querySelector('[data-takeover]')!;
		this.#status = dialog.querySelector('[data-live-status]')!;
		injectXtermStyles();
		dialog.querySelector('[data-live-close]')!.addEventListener('click', () => dialog.close());
		dialog.addEventListener('close', () => this.#closeAll());
		this.#takeover.addEventListener('click', () => this.#setTakeover(!this.#takenOver));
		onTabArrows(this.#tabs, (tab) => this.#select(tab.dataset.term!));
		dialog.querySelector('[data-end-terminals]')!.addEventListener('click', () => void this.#end(false));
		dialog.querySelector('[data-free-seat]')!.addEventListener('click', () => void this.#end(true));
		this.#resetButton.addEventListener('click', () => void this.#resetLab());
	}

	get student(): RosterStudent | null {
		return this.#dialog.open ? this.#student : null;
	}

	show(student: RosterStudent): void {
		this.#closeAll();
		this.#student = student;
		this.#resetResult.textContent = '';
		this.#dialog.querySelector('[data-live-title]')!.textContent = student.name;
		// "Open port": the student's lab's web page in a new tab (GET /api/preview?student=…&port=…).
		this.#dialog.querySelector<HTMLInputElement>('[data-open-port-student]')!.value = student.id;
		for (const format of ['json', 'csv'] as const) {
			this.#dialog.querySelector<HTMLAnchorElement>(`[data-transcript="${format}"]`)!.href = transcriptUrl(student.id, format);
		}
		this.#dialog.showModal();
		this.update(student);
	}

	/** The roster changed: terminals may have started or ended. */
	update(student: RosterStudent): void {
		if (!this.#dialog.open || student.id !== this.#student?.id) return;
		this.#student = student;
		// Only a backend with labs of one's own (incus) gives `lab`, and only there can a lab be reset.
		const where = student.lab === undefined ? `lab host ${student.labHost ?? 'this machine'}` : `lab ${student.lab?.name ?? 'none yet'}`;
		this.#resetButton.hidden = student.lab === undefined;
		this.#dialog.querySelector('[data-live-meta]')!.textContent =
			`${student.connected ? 'connected' : 'offline'} · ${where}${student.page ? ` · on ${this.#pageTitle(student.page)}` : ''}`;
		for (const { name } of student.terminals) {
			const open = this.#open.get(name);
			if (open) open.screen.reconnect();
			else this.#addScreen(student.id, name);
		}
		if (student.terminals.length === 0 && this.#open.size === 0) this.#status.textContent = 'This student has no terminal open yet.';
		if (!this.#selected && this.#open.size > 0) this.#select(this.#open.keys().next().value!);
	}

	#addScreen(student: string, name: string): void {
		const tab = document.createElement('button');
		tab.type = 'button';
		tab.role = 'tab';
		tab.id = `live-tab-${name}`;
		tab.dataset.term = name;
		tab.textContent = name;
		tab.setAttribute('aria-selected', 'false');
		tab.tabIndex = -1;
		tab.setAttribute('aria-controls', `live-panel-${name}`);
		tab.addEventListener('click', () => this.#select(name));
		const panel = document.createElement('div');
		panel.role = 'tabpanel';
		panel.id = `live-panel-${name}`;
		panel.className = 'live-screen';
		panel.setAttribute('aria-labelledby', tab.id);
		panel.hidden = true;
		panel.dataset.liveScreen = name;
		this.#tabs.append(tab);
		this.#screens.append(panel);
		const screen = new StudentScreen({
			student,
			term: name,
			container: panel,
			onStatus: (status) => {
				panel.dataset.state = status.state;
				if (this.#selected !== name) return;
				// A new socket (after a drop, a restart, a new shell) starts read-only on the gateway.
				if (status.state !== 'connected' && this.#takenOver) this.#setTakeover(false, false);
				this.#showStatus();
			},
			onTakeover: (on) => {
				// The gateway gives it back (or refused it: another instructor page is typing).
				if (this.#selected === name && !on && this.#takenOver) this.#setTakeover(false, false);
			},
		});
		this.#open.set(name, { tab, panel, screen });
	}

	#select(name: string): void {
		if (this.#takenOver) this.#setTakeover(false);
		this.#selected = name;
		for (const [key, { tab, panel }] of this.#open) {
			const selected = key === name;
			tab.setAttribute('aria-selected', String(selected));
			tab.tabIndex = selected ? 0 : -1;
			panel.hidden = !selected;
		}
		this.#showStatus();
	}

	#showStatus(): void {
		const open = this.#selected ? this.#open.get(this.#selected) : undefined;
		if (!open) return;
		const { state } = open.screen.status;
		this.#takeover.disabled = state !== 'connected';
		this.#status.textContent =
			state === 'connected'
				? this.#takenOver
					? 'You are typing in this terminal; the student sees a notice. Press Take over again, or close, to give it back.'
					: 'Watching, read-only.'
				: state === 'ended'
					? 'This terminal has ended.'
					: state === 'reconnecting' || state === 'connecting'
						? 'Connecting…'
						: `Not connected (${state}).`;
	}

	/** `send`: ask the gateway (not when the gateway told us). */
	#setTakeover(on: boolean, send = true): void {
		const open = this.#selected ? this.#open.get(this.#selected) : undefined;
		this.#takenOver = on && open !== undefined;
		this.#takeover.setAttribute('aria-pressed', String(this.#takenOver));
		if (open && send) open.screen.takeover(this.#takenOver);
		else open?.screen.allowTyping(this.#takenOver);
		this.#showStatus();
	}

	async #end(freeSeat: boolean): Promise<void> {
		const student = this.#student;
		if (!student) return;
		const question = freeSeat
			? `Free ${student.name}'s seat? Their terminals end and their browser is no longer part of the class (they can join again).`
			: `End ${student.name}'s terminals? Their shells and whatever runs in them stop; their next Run starts a fresh shell.`;
		if (!confirm(question)) return;
		try {
			await endStudent(student.id, freeSeat);
			if (freeSeat) this.#dialog.close();
			else this.#status.textContent = 'Terminals ended.';
		} catch (error) {
			this.#status.textContent = `Could not do that: ${(error as Error).message}`;
		}
	}

	async #resetLab(): Promise<void> {
		const student = this.#student;
		if (!student || this.#resetButton.disabled) return;
		const question = `Reset ${student.name}'s lab? Everything in it — files, pods, running commands — is deleted and a fresh lab starts; their terminals reconnect to it.`;
		if (!confirm(question)) return;
		this.#resetButton.disabled = true;
		this.#resetResult.textContent = 'Resetting the lab…';
		try {
			const result = await resetStudentLab(student.id);
			this.#resetResult.textContent = `Lab reset in ${result.ms} ms: ${student.name} now has ${result.lab}.`;
			this.#onLabReset();
		} catch (error) {
			this.#resetResult.textContent = `Could not reset the lab: ${(error as Error).message}`;
		} finally {
			this.#resetButton.disabled = false;
		}
	}

	#closeAll(): void {
		this.#takenOver = false;
		this.#takeover.setAttribute('aria-pressed', 'false');
		for (const { screen, tab, panel } of this.#open.values()) {
			screen.dispose();
			tab.remove();
			panel.remove();
		}
		this.#open.clear();
		this.#selected = null;
		this.#status.textContent = '';
	}
}
