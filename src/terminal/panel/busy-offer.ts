/**
 * The panel's question when the gateway refused a run because its terminal is busy: interrupt the
 * running command (Ctrl-C) and run the block, or leave it. Drawn from the panel's state
 * (panel-model.ts `busyQuestion`: one question at a time, a newer refusal replaces the older one).
 */
import type { PanelModel } from './panel-model.ts';
import { panelPart } from './panel-part.ts';

export class BusyOffer {
	readonly #dialog: HTMLElement;
	readonly #text: HTMLElement;
	readonly #interrupt: HTMLButtonElement;
	#shown: PanelModel['busyQuestion'] = null;

	/** `root`: the panel; `answer`: the reader's decision on the question shown. */
	constructor(root: HTMLElement, answer: (interrupt: boolean) => void) {
		this.#dialog = panelPart(root, 'busy');
		this.#text = panelPart(root, 'busy-text');
		this.#interrupt = panelPart(root, 'busy-interrupt');
		const decide = (interrupt: boolean) => {
			if (this.#shown) answer(interrupt);
		};
		this.#interrupt.addEventListener('click', () => decide(true));
		panelPart(root, 'busy-cancel').addEventListener('click', () => decide(false));
		this.#dialog.addEventListener('keydown', (event) => {
			if (event.key === 'Escape') decide(false);
		});
	}

	show(question: PanelModel['busyQuestion']): void {
		if (question === this.#shown) return;
		this.#shown = question;
		this.#dialog.hidden = question === null;
		if (!question) return;
		this.#text.textContent = `“${question.term}” is still running a command. Interrupt it (Ctrl-C) and run this block?`;
		this.#interrupt.focus();
	}
}
