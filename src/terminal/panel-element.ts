/**
 * `<podlab-terminal-panel>`: the part of the terminal that every page loads. It is deliberately
 * small — it listens for Run clicks and, on the first one, checks that a gateway is there, then
 * loads the real panel (xterm, sockets) with a dynamic import. Without a gateway (a plain static
 * host, or the lab is down) it copies the command instead and says so.
 *
 * At page load it also asks the gateway which lab it is (so the chapters show that lab's tabs) and
 * for the reader's saved results (✓/✗ on blocks, progress in the sidebar), and shows the Terminal
 * button that opens the panel without running anything. If the reader had the panel open on the
 * previous page, it loads at once and reattaches.
 */
import { setBlockStatus } from './block-status.ts';
import { copyText } from './clipboard.ts';
import { gatewayAnswers, joinUrl } from './gateway-probe.ts';
import { learnLab } from './lab-tabs.ts';
import { describeGrace } from './grace.ts';
import type { PanelController } from './panel-controller.ts';
import { readPanelState } from './panel-state.ts';
import { RUN_EVENT, type RunRequest } from './run-request.ts';
import { showSavedResults } from './saved-results.ts';

export class TerminalPanelElement extends HTMLElement {
	#controller: Promise<PanelController> | null = null;
	/** The "Terminal" button outside the panel (see TerminalPanel.astro). */
	#launcher: HTMLButtonElement | null = null;

	connectedCallback(): void {
		document.addEventListener(RUN_EVENT, this.#onRun);
		this.#launcher = document.querySelector<HTMLButtonElement>('[data-podlab-launcher]');
		this.#launcher?.addEventListener('click', this.#onLauncher);
		void learnLab().then((lab) => {
			// Only a gateway can open a terminal: on a static host the button stays hidden.
			if (!lab || !this.#launcher) return;
			if (lab.graceMs) this.#launcher.title = `Open the lab terminal. Closed, your shells keep running for ${describeGrace(lab.graceMs)}.`;
			this.#launcher.hidden = false;
		});
		void showSavedResults();
		if (readPanelState().open) {
			this.#load().then(
				(controller) => controller.restore(),
				(error: unknown) => console.error('[podlab] the terminal could not be loaded:', error),
			);
		}
	}

	disconnectedCallback(): void {
		document.removeEventListener(RUN_EVENT, this.#onRun);
		this.#launcher?.removeEventListener('click', this.#onLauncher);
	}

	readonly #onRun = (event: Event): void => {
		// Tells the button's script that the panel takes care of this click.
		event.preventDefault();
		void this.#run((event as CustomEvent<RunRequest>).detail);
	};

	readonly #onLauncher = (): void => {
		void this.#openFromLauncher();
	};

	/** Opens the panel with the reader's terminals, focused, as if they had never closed it. */
	async #openFromLauncher(): Promise<void> {
		if (!this.#controller && (await gatewayAnswers()) === 'join') {
			location.assign(joinUrl());
			return;
		}
		try {
			const controller = await this.#load();
			await controller.open();
			controller.focusTerminal();
		} catch (error) {
			console.error('[podlab] the terminal could not be loaded:', error);
		}
	}

	async #run(request: RunRequest): Promise<void> {
		if (!this.#controller) {
			setBlockStatus(request.block, 'running', 'Connecting…');
			const gateway = await gatewayAnswers();
			if (gateway === 'join') {
				setBlockStatus(request.block, 'offline', 'Join the class first — opening the join page…');
				location.assign(joinUrl());
				return;
			}
			if (gateway === 'offline') {
				await this.#copyInstead(request, 'Lab offline');
				return;
			}
		}
		let controller: PanelController;
		try {
			controller = await this.#load();
		} catch (error) {
			console.error('[podlab] the terminal could not be loaded:', error);
			await this.#copyInstead(request, 'Terminal failed to load');
			return;
		}
		await controller.run(request);
	}

	async #copyInstead(request: RunRequest, reason: string): Promise<void> {
		const copied = await copyText(request.code);
		setBlockStatus(request.block, 'offline', copied ? `${reason} — command copied` : `${reason} — copy it by hand`);
	}

	#load(): Promise<PanelController> {
		this.#controller ??= import('./panel-controller.ts').then(({ PanelController }) => new PanelController(this));
		// A failed chunk download may succeed on the next click (a flaky network, a redeploy).
		this.#controller.catch(() => {
			this.#controller = null;
		});
		return this.#controller;
	}
}

customElements.define('podlab-terminal-panel', TerminalPanelElement);
