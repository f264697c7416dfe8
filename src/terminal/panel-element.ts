/**
 * `<podlab-terminal-panel>`: the part of the terminal that every page loads. It is deliberately
 * small — it listens for Run clicks and, on the first one, checks that a gateway is there, then
 * loads the real panel (xterm, sockets) with a dynamic import. Without a gateway (a plain static
 * host, or the lab is down) it copies the command instead and says so.
 *
 * If the reader had the panel open on the previous page, it loads at once and reattaches.
 */
import { setBlockStatus } from './block-status.ts';
import { copyText } from './clipboard.ts';
import { gatewayAnswers, joinUrl } from './gateway-probe.ts';
import type { PanelController } from './panel-controller.ts';
import { readPanelState } from './panel-state.ts';
import { RUN_EVENT, type RunRequest } from './run-request.ts';

export class TerminalPanelElement extends HTMLElement {
	#controller: Promise<PanelController> | null = null;

	connectedCallback(): void {
		document.addEventListener(RUN_EVENT, this.#onRun);
		if (readPanelState().open) {
			this.#load().then(
				(controller) => controller.restore(),
				(error: unknown) => console.error('[podlab] the terminal could not be loaded:', error),
			);
		}
	}

	disconnectedCallback(): void {
		document.removeEventListener(RUN_EVENT, this.#onRun);
	}

	readonly #onRun = (event: Event): void => {
		// Tells the button's script that the panel takes care of this click.
		event.preventDefault();
		void this.#run((event as CustomEvent<RunRequest>).detail);
	};

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
