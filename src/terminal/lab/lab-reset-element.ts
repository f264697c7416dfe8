/**
 * `<podlab-lab-reset>`: the "Reset my lab" button of /lab-check/ (src/components/LabReset.astro).
 * It shows itself only when the gateway says the reader's lab can be reset (`resettable` in
 * `GET /api/lab`), asks for confirmation as the terminal panel does, and says how the reset went —
 * also for a reset started from the panel.
 *
 * Small on purpose: the request and the check of its answer load on the click (lab-reset.ts).
 */
import { onLabReset, requestLabReset, type LabResetEvent } from './lab-reset-event.ts';
import { attachResetConfirm, type ResetConfirm } from './reset-confirm.ts';
import { getLab } from '../page/urls.ts';

/** Whether a gateway answers and can reset this reader's lab. */
async function labIsResettable(): Promise<boolean> {
	const body = await getLab(5_000);
	return typeof body === 'object' && body !== null && 'resettable' in body && body.resettable === true;
}

function describe(event: LabResetEvent): string {
	switch (event.phase) {
		case 'started':
			return 'Resetting your lab…';
		case 'done':
			return `Your lab was reset in ${event.ms} ms: ${event.lab} is fresh and empty, and open terminals reconnect to it.`;
		case 'failed':
			return event.message;
	}
}

export class LabResetElement extends HTMLElement {
	#confirm: ResetConfirm | null = null;
	#stopListening: (() => void) | null = null;

	connectedCallback(): void {
		const part = <T extends HTMLElement>(name: string) => this.querySelector<T>(`[data-lab-reset-${name}]`)!;
		const status = part('status');
		this.#confirm ??= attachResetConfirm({ trigger: part('toggle'), bar: part('bar'), confirm: part('confirm'), cancel: part('cancel') }, () =>
			void requestLabReset(),
		);
		this.#stopListening = onLabReset((event) => {
			this.#confirm?.setBusy(event.phase === 'started');
			status.textContent = describe(event);
			status.dataset.phase = event.phase;
		});
		void labIsResettable().then((resettable) => {
			this.hidden = !resettable;
		});
	}

	disconnectedCallback(): void {
		this.#stopListening?.();
	}

}

customElements.define('podlab-lab-reset', LabResetElement);
