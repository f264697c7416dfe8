/**
 * The confirmation a lab reset asks for, in the page rather than in a browser dialog: the trigger
 * opens a bar with the sentence and two buttons, "Reset lab" and "Cancel". The terminal panel and
 * the button on /lab-check/ share it.
 *
 * Keyboard: the bar opens with the focus on Cancel (the choice that loses nothing), Escape cancels,
 * and either answer puts the focus back on the trigger.
 */

export interface ResetConfirmParts {
	/** Opens the bar; `aria-expanded` says whether it is open. */
	trigger: HTMLButtonElement;
	bar: HTMLElement;
	confirm: HTMLButtonElement;
	cancel: HTMLButtonElement;
}

export interface ResetConfirm {
	/** While a reset runs the trigger stays focusable but does nothing (`aria-disabled`), and the bar stays shut. */
	setBusy(busy: boolean): void;
	/** Shuts the bar without an answer (the panel was closed). */
	hide(): void;
}

/** Wires the trigger and the bar; `onConfirm` runs when the reader confirms. */
export function attachResetConfirm(parts: ResetConfirmParts, onConfirm: () => void): ResetConfirm {
	const { trigger, bar, confirm, cancel } = parts;
	let busy = false;
	const hide = () => {
		bar.hidden = true;
		trigger.setAttribute('aria-expanded', 'false');
	};
	const answer = (confirmed: boolean) => {
		if (bar.hidden) return;
		hide();
		trigger.focus();
		if (confirmed) onConfirm();
	};
	trigger.setAttribute('aria-expanded', 'false');
	trigger.setAttribute('aria-controls', bar.id);
	trigger.addEventListener('click', () => {
		if (busy) return;
		if (!bar.hidden) return answer(false);
		bar.hidden = false;
		trigger.setAttribute('aria-expanded', 'true');
		cancel.focus();
	});
	confirm.addEventListener('click', () => answer(true));
	cancel.addEventListener('click', () => answer(false));
	bar.addEventListener('keydown', (event) => {
		if (event.key !== 'Escape') return;
		// The panel's own Escape handling (and the page's) need not see it.
		event.stopPropagation();
		answer(false);
	});
	return {
		setBusy(value) {
			busy = value;
			if (busy) {
				hide();
				trigger.setAttribute('aria-disabled', 'true');
			} else {
				trigger.removeAttribute('aria-disabled');
			}
		},
		hide,
	};
}
