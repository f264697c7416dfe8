/**
 * The panel's tabs, one per terminal, with the ARIA tabs pattern: a tab button in the tab list and
 * its tab panel (where the terminal is drawn); one selected at a time, arrows and Home/End move
 * between them; each tab says its terminal's state to screen readers.
 */
import type { ConnectionStatus } from '../connection/connection-types.ts';

/** A tab's state in words, after its name ("main, running a command"). */
const STATE_WORDS: Record<string, string> = {
	busy: 'running a command',
	connected: 'connected',
	connecting: 'connecting',
	reconnecting: 'reconnecting',
	offline: 'lab offline',
	ended: 'session ended',
	failed: 'not connected',
	closed: 'closed',
};

export interface TabParts {
	tab: HTMLButtonElement;
	panel: HTMLElement;
}

export class PanelTabs {
	readonly #list: HTMLElement;
	readonly #panels: HTMLElement;
	readonly #tabs = new Map<string, TabParts>();
	readonly #choose: (name: string, focusTerminal: boolean) => void;

	/** `choose`: the reader chose tab `name` (a click: `focusTerminal`; the keyboard keeps the focus on the tabs). */
	constructor(list: HTMLElement, panels: HTMLElement, choose: (name: string, focusTerminal: boolean) => void) {
		this.#list = list;
		this.#panels = panels;
		this.#choose = choose;
		list.addEventListener('keydown', (event) => {
			const names = [...this.#tabs.keys()];
			const index = names.findIndex((name) => this.#tabs.get(name)!.tab.tabIndex === 0);
			const next: Record<string, number> = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: names.length - 1 };
			const target = next[event.key];
			if (target === undefined) return;
			event.preventDefault();
			const name = names[(target + names.length) % names.length]!;
			choose(name, false);
			this.#tabs.get(name)!.tab.focus();
		});
	}

	/** Adds the tab and the panel of terminal `name`, unselected. */
	add(name: string): TabParts {
		const tab = document.createElement('button');
		tab.type = 'button';
		tab.setAttribute('role', 'tab');
		tab.id = `podlab-tab-${name}`;
		tab.className = 'podlab-tab';
		tab.tabIndex = -1;
		tab.setAttribute('aria-selected', 'false');
		tab.setAttribute('aria-controls', `podlab-tabpanel-${name}`);
		tab.dataset.term = name;
		tab.innerHTML = '<span class="podlab-tab-dot" aria-hidden="true"></span><span class="podlab-tab-name"></span><span class="podlab-sr-only" data-tab-state></span>';
		tab.querySelector('.podlab-tab-name')!.textContent = name;
		tab.addEventListener('click', () => this.#choose(name, true));
		this.#list.append(tab);

		const panel = document.createElement('div');
		panel.setAttribute('role', 'tabpanel');
		panel.id = `podlab-tabpanel-${name}`;
		panel.className = 'podlab-terminal';
		panel.setAttribute('aria-labelledby', tab.id);
		panel.setAttribute('aria-describedby', 'podlab-terminal-keys');
		this.#panels.append(panel);

		const parts = { tab, panel };
		this.#tabs.set(name, parts);
		return parts;
	}

	/** Shows terminal `name`'s panel; the others are hidden and inert. */
	select(name: string): void {
		for (const [other, { tab, panel }] of this.#tabs) {
			const selected = other === name;
			tab.setAttribute('aria-selected', String(selected));
			tab.tabIndex = selected ? 0 : -1;
			panel.classList.toggle('podlab-terminal-active', selected);
			panel.inert = !selected;
		}
	}

	/** Shows `status` on tab `name` (a connected terminal running a command is "busy"). */
	showState(name: string, status: ConnectionStatus, busy: boolean): void {
		const tab = this.#tabs.get(name)?.tab;
		if (!tab) return;
		const shown = status.state === 'connected' && busy ? 'busy' : status.state;
		if (tab.dataset.state === shown) return;
		tab.dataset.state = shown;
		tab.querySelector('[data-tab-state]')!.textContent = `, ${STATE_WORDS[shown] ?? shown}`;
	}
}
