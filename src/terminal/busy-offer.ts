/**
 * The panel's question when the gateway refused a run because its terminal is busy: interrupt the
 * running command (Ctrl-C) and run the block, or leave it. One question at a time; a newer refusal
 * replaces the older one.
 */
import type { TerminalRun } from './terminal-connection.ts';

export interface BusyOfferParts {
	dialog: HTMLElement;
	text: HTMLElement;
	interrupt: HTMLButtonElement;
	cancel: HTMLButtonElement;
}

export class BusyOffer {
	readonly #parts: BusyOfferParts;
	#offer: { term: string; run: TerminalRun } | null = null;

	/** `answer`: the reader's decision on `run` of terminal `term`. */
	constructor(parts: BusyOfferParts, answer: (term: string, run: TerminalRun, interrupt: boolean) => void) {
		this.#parts = parts;
		const decide = (interrupt: boolean) => {
			const offer = this.#offer;
			if (!offer) return;
			this.hide();
			answer(offer.term, offer.run, interrupt);
		};
		parts.interrupt.addEventListener('click', () => decide(true));
		parts.cancel.addEventListener('click', () => decide(false));
		parts.dialog.addEventListener('keydown', (event) => {
			if (event.key === 'Escape') decide(false);
		});
	}

	/** The terminal the question is about, while it is asked. */
	get term(): string | null {
		return this.#offer?.term ?? null;
	}

	ask(term: string, run: TerminalRun): void {
		this.#offer = { term, run };
		this.#parts.text.textContent = `“${term}” is still running a command. Interrupt it (Ctrl-C) and run this block?`;
		this.#parts.dialog.hidden = false;
		this.#parts.interrupt.focus();
	}

	hide(): void {
		this.#offer = null;
		this.#parts.dialog.hidden = true;
	}
}
