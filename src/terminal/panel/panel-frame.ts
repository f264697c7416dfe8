/**
 * The panel as a part of the page: shown or hidden (remembered for the next page, panel-state.ts),
 * its height (dragged, remembered, panel-resize.ts) with room made for it under the page
 * (panel-room.ts), and where the focus goes back to when it closes: the button the last block was
 * run from.
 */
import { readPanelHeight, savePanelHeight } from './panel-prefs.ts';
import { attachPanelResize, clampPanelHeight } from './panel-resize.ts';
import { panelPart } from './panel-part.ts';
import { makeRoomForPanel } from './panel-room.ts';
import { savePanelState } from '../page/panel-state.ts';

/**
 * Default height: enough for a command and its output, leaving most of the window for reading. A
 * phone's header and the page's "On this page" bar take more of its height: the panel takes less.
 */
const DEFAULT_HEIGHT = () => Math.round(Math.min(360, window.innerHeight * (window.matchMedia('(max-width: 50rem)').matches ? 0.3 : 0.4)));

export class PanelFrame {
	readonly #root: HTMLElement;
	#height: number;
	/** The button each block was run from, so focus can go back to it. */
	readonly #triggers = new Map<string, HTMLElement>();

	constructor(root: HTMLElement) {
		this.#root = root;
		this.#height = clampPanelHeight(readPanelHeight() ?? DEFAULT_HEIGHT(), window.innerHeight);
		attachPanelResize(panelPart(root, 'resize'), () => this.#height, (height, done) => {
			this.#height = height;
			root.style.height = `${height}px`;
			if (!root.hidden) makeRoomForPanel(height);
			if (done) savePanelHeight(height);
		});
	}

	get open(): boolean {
		return !this.#root.hidden;
	}

	show(active: string): void {
		this.#root.hidden = false;
		document.documentElement.dataset.podlabPanel = 'open';
		makeRoomForPanel(this.#height);
		this.remember(active);
	}

	/** Hides the panel; the focus goes back to the last block's button if it was in the panel. */
	hide(active: string): void {
		const hadFocus = this.#root.contains(document.activeElement);
		this.#root.hidden = true;
		delete document.documentElement.dataset.podlabPanel;
		makeRoomForPanel(null);
		savePanelState({ open: false, active });
		if (hadFocus) [...this.#triggers.values()].reverse().find((trigger) => trigger.isConnected)?.focus();
	}

	/** The active tab, for the next page (while the panel is open). */
	remember(active: string): void {
		if (this.open) savePanelState({ open: true, active });
	}

	/**
	 * Notes the button `block` was run from and scrolls the block into the part of the window the
	 * panel leaves free (the root's scroll-padding, set while the panel is open, keeps the header
	 * and the panel out of it): the reader sees the block, its result and where the focus is. A
	 * block taller than that keeps its toolbar (Run and the result) in view.
	 */
	ranFrom(block: string, trigger: HTMLElement | null): void {
		if (!trigger) return;
		this.#triggers.set(block, trigger);
		if (!trigger.isConnected) return;
		trigger.closest('.expressive-code')?.scrollIntoView({ block: 'nearest', behavior: 'instant' });
		(trigger.closest('.podlab-run') ?? trigger).scrollIntoView({ block: 'nearest', behavior: 'instant' });
	}

	/** Back to the button `block` was run from (the reader answered a question about its run). */
	focusTrigger(block: string): void {
		this.#triggers.get(block)?.focus();
	}
}
