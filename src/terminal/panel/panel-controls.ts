/**
 * The panel's own controls besides the terminals: the help (its rows are taken from the terminal),
 * the screen reader mode (saved for the next page), the lab reset with its confirmation (shown when
 * the gateway says the lab can be reset), the close button, and the words that say how long shells
 * outlive a closed panel.
 */
import { describeGrace } from './grace.ts';
import { requestLabReset } from '../lab/lab-reset-event.ts';
import type { LabInfo } from './lab-api.ts';
import { panelPart } from './panel-part.ts';
import { readScreenReaderMode, saveScreenReaderMode } from './panel-prefs.ts';
import { attachResetConfirm, type ResetConfirm } from '../lab/reset-confirm.ts';

export interface PanelControlEffects {
	/** The help opened or closed: the active terminal fits what is left. */
	helpToggled(): void;
	screenReaderMode(on: boolean): void;
	close(): void;
}

export class PanelControls {
	readonly #grace: HTMLElement;
	readonly #close: HTMLButtonElement;
	readonly #resetToggle: HTMLButtonElement;
	readonly #resetConfirm: ResetConfirm;
	#screenReaderMode = readScreenReaderMode();

	constructor(root: HTMLElement, effects: PanelControlEffects) {
		const help = panelPart(root, 'help');
		const helpToggle = panelPart<HTMLButtonElement>(root, 'help-toggle');
		const screenReaderToggle = panelPart<HTMLButtonElement>(root, 'screen-reader');
		this.#grace = panelPart(root, 'grace');
		this.#close = panelPart(root, 'close');
		this.#resetToggle = panelPart(root, 'reset-toggle');
		this.#resetConfirm = attachResetConfirm(
			{ trigger: this.#resetToggle, bar: panelPart(root, 'reset'), confirm: panelPart(root, 'reset-confirm'), cancel: panelPart(root, 'reset-cancel') },
			() => void requestLabReset(),
		);
		screenReaderToggle.setAttribute('aria-pressed', String(this.#screenReaderMode));
		screenReaderToggle.addEventListener('click', () => {
			this.#screenReaderMode = !this.#screenReaderMode;
			saveScreenReaderMode(this.#screenReaderMode);
			screenReaderToggle.setAttribute('aria-pressed', String(this.#screenReaderMode));
			effects.screenReaderMode(this.#screenReaderMode);
		});
		helpToggle.addEventListener('click', () => {
			const open = help.hidden;
			help.hidden = !open;
			helpToggle.setAttribute('aria-expanded', String(open));
			effects.helpToggled();
		});
		this.#close.addEventListener('click', () => effects.close());
	}

	get screenReaderMode(): boolean {
		return this.#screenReaderMode;
	}

	/** What the gateway says of the lab: whether it can be reset, and how long shells outlive the panel. */
	useLab(lab: LabInfo | null): void {
		this.#resetToggle.hidden = lab?.resettable !== true;
		if (typeof lab?.graceMs !== 'number') return;
		const time = describeGrace(lab.graceMs);
		this.#grace.textContent = time;
		this.#close.title = `Close — your shells keep running for ${time}`;
	}

	/** While a reset runs the reset button does nothing. */
	resetting(busy: boolean): void {
		this.#resetConfirm.setBusy(busy);
	}

	/** Shuts the reset's confirmation without an answer (the panel closes). */
	hide(): void {
		this.#resetConfirm.hide();
	}
}
