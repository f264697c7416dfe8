/**
 * The panel's own controls besides the terminals: the help (its rows are taken from the terminal),
 * the screen reader mode (saved for the next page), and the words that say how long shells outlive
 * a closed panel.
 */
import { describeGrace } from './grace.ts';
import { readScreenReaderMode, saveScreenReaderMode } from './panel-prefs.ts';

export interface PanelToggleParts {
	help: HTMLElement;
	helpToggle: HTMLButtonElement;
	screenReaderToggle: HTMLButtonElement;
	/** Where the help says how long shells live on. */
	grace: HTMLElement;
	close: HTMLButtonElement;
}

export interface PanelToggleEffects {
	/** The help opened or closed: the active terminal fits what is left. */
	helpToggled(): void;
	screenReaderMode(on: boolean): void;
}

export class PanelToggles {
	readonly #parts: PanelToggleParts;
	#screenReaderMode = readScreenReaderMode();

	constructor(parts: PanelToggleParts, effects: PanelToggleEffects) {
		this.#parts = parts;
		parts.screenReaderToggle.setAttribute('aria-pressed', String(this.#screenReaderMode));
		parts.screenReaderToggle.addEventListener('click', () => {
			this.#screenReaderMode = !this.#screenReaderMode;
			saveScreenReaderMode(this.#screenReaderMode);
			parts.screenReaderToggle.setAttribute('aria-pressed', String(this.#screenReaderMode));
			effects.screenReaderMode(this.#screenReaderMode);
		});
		parts.helpToggle.addEventListener('click', () => {
			const open = parts.help.hidden;
			parts.help.hidden = !open;
			parts.helpToggle.setAttribute('aria-expanded', String(open));
			effects.helpToggled();
		});
	}

	get screenReaderMode(): boolean {
		return this.#screenReaderMode;
	}

	/** The help and the close button say how long shells outlive the panel. */
	describeClosing(graceMs: number): void {
		const time = describeGrace(graceMs);
		this.#parts.grace.textContent = time;
		this.#parts.close.title = `Close — your shells keep running for ${time}`;
	}
}
