/**
 * `<podlab-exercise>` (src/components/Exercise.astro): an exercise's hints one at a time, and its
 * Check button. Loaded only by pages with an exercise.
 *
 * Without JavaScript, hints and the solution are plain `<details>`. With it, the hints wait behind
 * one button ("Show a hint (1 of 2)"), and Check asks the gateway to run the exercise's script in the
 * reader's lab (`POST /api/check/<id>`). The Check button shows only when a gateway answers, as Run
 * buttons copy instead on a static host. A check's result is kept by the gateway like a block's run
 * (`exercise:<id>`): it shows again after a reload, and the sidebar's progress counts it.
 */
import { CHECKING, NO_SESSION, checkOutcome, hintButtonLabel, hintTitle, savedOutcome, type CheckOutcome, type CheckView } from './exercise-check.ts';
import { exerciseBlock } from './exercise-block.ts';
import { gatewayAnswers, joinUrl } from './gateway-probe.ts';
import { exitsOf, noteResult } from './saved-results.ts';
import { apiUrl, fetchJson, getJson, getLab, siteUrl } from './urls.ts';

/** How long a check may take: the script's own 20 s, and a stopped lab's start before it. */
const CHECK_TIMEOUT_MS = 60_000;

export class ExerciseElement extends HTMLElement {
	#hints: HTMLDetailsElement[] = [];
	#hintsShown = 0;
	#hintButton: HTMLButtonElement | null = null;
	#checkButton: HTMLButtonElement | null = null;
	#status: HTMLElement | null = null;
	/** A check ran on this page: its result is newer than the saved one. */
	#checked = false;
	#checking = false;

	connectedCallback(): void {
		const id = this.dataset.exercise;
		if (!id) return;
		this.#setUpHints();
		this.#checkButton = this.querySelector<HTMLButtonElement>('[data-exercise-check-button]');
		this.#status = this.querySelector<HTMLElement>('[data-exercise-status]');
		this.#checkButton?.addEventListener('click', this.#onCheck);
		void getLab(5_000).then((lab) => {
			const row = this.querySelector<HTMLElement>('[data-exercise-check]');
			if (row) row.hidden = lab === null;
		});
		// Its saved result, asked for when the exercise comes on screen (saved-results.ts asked at load, for the blocks).
		void getJson(apiUrl('results'), 5_000).then((answer) => exitsOf(answer).get(exerciseBlock(id))).then((exit) => {
			if (exit !== undefined && !this.#checked) this.#show(savedOutcome(exit));
		});
	}

	disconnectedCallback(): void {
		this.#hintButton?.removeEventListener('click', this.#onHint);
		this.#checkButton?.removeEventListener('click', this.#onCheck);
	}

	/** Hides the hints behind one button, placed after the last of them. */
	#setUpHints(): void {
		this.#hints = [...this.querySelectorAll<HTMLDetailsElement>('details[data-exercise-hint]')];
		this.#hintButton = this.querySelector<HTMLButtonElement>('[data-exercise-hint-button]');
		if (!this.#hintButton || this.#hints.length === 0) return;
		this.#hints.forEach((hint, index) => {
			hint.hidden = true;
			const title = hint.querySelector('summary');
			if (title) title.textContent = hintTitle(index + 1, this.#hints.length);
		});
		this.#hints.at(-1)!.after(this.#hintButton);
		this.#hintButton.textContent = hintButtonLabel(0, this.#hints.length);
		this.#hintButton.hidden = false;
		this.#hintButton.addEventListener('click', this.#onHint);
	}

	readonly #onHint = (): void => {
		const hint = this.#hints[this.#hintsShown];
		if (!hint || !this.#hintButton) return;
		hint.hidden = false;
		hint.open = true;
		this.#hintsShown++;
		if (this.#hintsShown < this.#hints.length) {
			this.#hintButton.textContent = hintButtonLabel(this.#hintsShown, this.#hints.length);
			return;
		}
		// The button goes with the last hint: focus moves to that hint rather than to the page's top.
		this.#hintButton.hidden = true;
		hint.querySelector('summary')?.focus();
	};

	readonly #onCheck = (): void => {
		void this.#check();
	};

	async #check(): Promise<void> {
		const id = this.dataset.exercise;
		if (!id || this.#checking) return;
		this.#checking = true;
		this.#checked = true;
		this.#checkButton?.setAttribute('aria-disabled', 'true');
		if (this.#checkButton) this.#checkButton.textContent = CHECKING.text;
		this.#show(CHECKING);
		try {
			let outcome = await this.#ask(id);
			if (outcome.state === 'no-reader') {
				// A reader who never opened a terminal has no session yet: get one (or join the class), and ask again.
				const gateway = await gatewayAnswers();
				if (gateway.state === 'join') {
					location.assign(joinUrl());
					return;
				}
				outcome = await this.#ask(id);
			}
			if (outcome.state === 'no-reader') outcome = NO_SESSION;
			this.#show(outcome);
			if (outcome.exit !== undefined) noteResult(exerciseBlock(id), outcome.exit);
		} finally {
			this.#checking = false;
			this.#checkButton?.removeAttribute('aria-disabled');
			if (this.#checkButton) this.#checkButton.textContent = 'Check';
		}
	}

	async #ask(id: string): Promise<CheckOutcome> {
		return checkOutcome(id, await fetchJson(siteUrl(`api/check/${encodeURIComponent(id)}`), CHECK_TIMEOUT_MS, 'POST'));
	}

	#show(view: CheckView): void {
		if (!this.#status) return;
		this.#status.dataset.state = view.state;
		this.#status.textContent = view.text;
	}
}

customElements.define('podlab-exercise', ExerciseElement);
