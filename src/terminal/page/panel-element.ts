/**
 * `<podlab-terminal-panel>`: the part of the terminal that every page loads. It is deliberately
 * small — it listens for Run clicks and, on the first one, checks that a gateway is there, then
 * loads the real panel (xterm, sockets) with dynamic imports. Without a gateway (a plain static
 * host, or the lab is down) it copies the command instead and says so.
 *
 * The first Run is a race against the clock: the panel's controller and xterm.js download side by
 * side, the controller opens the socket as soon as it has started, and the gateway starts the shell
 * while the page shows nothing yet. When the gateway already answered on this page (`/api/lab`),
 * the downloads start with the click itself, alongside `POST /api/session?start=<terminal>`, which
 * starts the shell at once and whose answer the panel then uses instead of asking again.
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
import type { PanelController } from '../panel/panel-controller.ts';
import { readPanelState } from './panel-state.ts';
import { RUN_EVENT, type RunRequest } from './run-request.ts';
import { showSavedResults } from './saved-results.ts';

/** A Run's status when the terminal's code did not download. xterm.js is asked for once per page, so a reload is what retries. */
const LOAD_FAILED = 'Terminal failed to load (reload the page)';

export class TerminalPanelElement extends HTMLElement {
	#controller: Promise<PanelController> | null = null;
	#downloads: { controller: Promise<typeof import('../panel/panel-controller.ts')>; view: Promise<unknown> } | null = null;
	/** The "Terminal" button outside the panel (see TerminalPanel.astro). */
	#launcher: HTMLButtonElement | null = null;
	/** A gateway answered `GET /api/lab` on this page. */
	#gatewaySeen = false;

	connectedCallback(): void {
		document.addEventListener(RUN_EVENT, this.#onRun);
		this.#launcher = document.querySelector<HTMLButtonElement>('[data-podlab-launcher]');
		this.#launcher?.addEventListener('click', this.#onLauncher);
		void learnLab().then((lab) => {
			this.#gatewaySeen = lab !== null;
			// Only a gateway can open a terminal: on a static host the button stays hidden.
			if (!lab || !this.#launcher) return;
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
		let session: unknown;
		if (!this.#controller) {
			const gateway = await gatewayAnswers();
			if (gateway.state === 'join') {
				location.assign(joinUrl());
				return;
			}
			session = gateway.session;
		}
		try {
			const controller = await this.#load();
			controller.useSession(session);
			await controller.open();
			controller.focusTerminal();
		} catch (error) {
			console.error('[podlab] the terminal could not be loaded:', error);
		}
	}

	async #run(request: RunRequest): Promise<void> {
		let session: unknown;
		if (!this.#controller) {
			setBlockStatus(request.block, 'running', 'Connecting…');
			if (this.#gatewaySeen) this.#download();
			const gateway = await gatewayAnswers(request.term);
			if (gateway.state === 'join') {
				setBlockStatus(request.block, 'offline', 'Join the class first — opening the join page…');
				location.assign(joinUrl());
				return;
			}
			if (gateway.state === 'offline') {
				await this.#copyInstead(request, 'Lab offline');
				return;
			}
			session = gateway.session;
		}
		let controller: PanelController;
		try {
			controller = await this.#load();
		} catch (error) {
			console.error('[podlab] the terminal could not be loaded:', error);
			await this.#copyInstead(request, LOAD_FAILED);
			return;
		}
		controller.useSession(session);
		await controller.run(request);
		// The socket is open by now; without xterm.js there is nothing to show the shell in.
		const viewLoaded = await this.#download().view.then(
			() => true,
			() => false,
		);
		if (!viewLoaded) {
			controller.close();
			await this.#copyInstead(request, LOAD_FAILED);
		}
	}

	async #copyInstead(request: RunRequest, reason: string): Promise<void> {
		const copied = await copyText(request.code);
		setBlockStatus(request.block, 'offline', copied ? `${reason} — command copied` : `${reason} — copy it by hand`);
	}

	#load(): Promise<PanelController> {
		this.#controller ??= this.#download().controller.then(({ PanelController }) => new PanelController(this));
		// A failed chunk download may succeed on the next click (a flaky network, a redeploy).
		this.#controller.catch(() => {
			this.#controller = null;
			this.#downloads = null;
		});
		return this.#controller;
	}

	/**
	 * Starts both downloads, once: the controller, and xterm.js with the view (the same module the
	 * panel's views import). Side by side, not one after the other: asked for only once the controller
	 * had opened the socket, xterm.js drew the first output about 50 ms later (measured on this machine).
	 */
	#download(): { controller: Promise<typeof import('../panel/panel-controller.ts')>; view: Promise<unknown> } {
		if (!this.#downloads) {
			this.#downloads = { controller: import('../panel/panel-controller.ts'), view: import('../view/xterm-view.ts') };
			// Reported where it matters: by the panel's view, and by the Run that needed it.
			this.#downloads.view.catch(() => {});
		}
		return this.#downloads;
	}
}

customElements.define('podlab-terminal-panel', TerminalPanelElement);
