/**
 * The panel's status line on the page: its words, its one button, and the active connection's state
 * on the panel (`data-state`, for the styles). What it says is panel-status-line.ts's.
 */
import { panelPart } from './panel-part.ts';
import type { StatusAction } from './panel-model.ts';
import type { StatusLine } from './panel-status-line.ts';

export class StatusBar {
	readonly #root: HTMLElement;
	readonly #text: HTMLElement;
	readonly #action: HTMLButtonElement;
	/** What the button offers now. */
	#offered: StatusAction | null = null;

	/** `act`: what the button does, by the action the line offers. */
	constructor(root: HTMLElement, act: (action: StatusAction) => void) {
		this.#root = root;
		this.#text = panelPart(root, 'status');
		this.#action = panelPart(root, 'action');
		this.#action.addEventListener('click', () => {
			if (this.#offered) act(this.#offered);
		});
	}

	/** `state`: the active connection's. */
	show(line: StatusLine, state: string): void {
		// Typing draws the panel again: unchanged words are not written, so nothing is laid out anew.
		if (this.#text.textContent !== line.text) this.#text.textContent = line.text;
		this.#root.dataset.state = state;
		this.#offered = line.action?.kind ?? null;
		this.#action.hidden = line.action === null;
		if (line.action) this.#action.textContent = line.action.label;
	}
}
