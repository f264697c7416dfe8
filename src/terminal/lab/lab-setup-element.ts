/**
 * `<podlab-lab-setup>`: on /lab-check/ (src/components/LabSetup.astro), where the preparation of the
 * lab stands while `lab:setup` runs on the gateway's machine (the first `npm start` as root), until it
 * is ready; or, on a machine with no lab of its own, the one command that makes one. Hidden otherwise.
 */
import { describeSetup, SETUP_COMMAND, setupOf } from './lab-setup.ts';
import { LabSetupWatch } from './lab-setup-watch.ts';
import { getLab } from '../page/urls.ts';

/** A gateway that runs shells on its own machine because no labs of one's own can be made there. */
function withoutLabs(body: unknown): boolean {
	const { backend, lab } = (body ?? {}) as { backend?: unknown; lab?: { incus?: { available?: unknown } } };
	return backend === 'local' && lab?.incus?.available === false;
}

export class LabSetupElement extends HTMLElement {
	#watch: LabSetupWatch | null = null;

	async connectedCallback(): Promise<void> {
		const body = await getLab(5_000);
		if (!this.isConnected) return;
		const setup = setupOf(body);
		if (setup?.state === 'running') {
			this.#watch = new LabSetupWatch((now) => {
				if (now) this.#show(now.state === 'running' ? 'running' : now.state, describeSetup(now));
				if (now?.state !== 'running') this.#watch?.stop();
			});
			this.#show('running', describeSetup(setup));
			this.#watch.start();
		} else if (setup?.state === 'failed') {
			this.#show('failed', describeSetup(setup));
		} else if (withoutLabs(body)) {
			this.#show('missing', `This machine has no lab of its own yet, so these blocks run in a shell on the machine itself. \`${SETUP_COMMAND}\` on it makes one (about 3 minutes).`);
		}
	}

	disconnectedCallback(): void {
		this.#watch?.stop();
	}

	#show(state: string, text: string): void {
		this.dataset.state = state;
		this.querySelector('[data-lab-setup-text]')!.textContent = text;
		this.hidden = false;
	}
}

customElements.define('podlab-lab-setup', LabSetupElement);
