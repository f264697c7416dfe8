/**
 * The terminal panel once a reader has used it, as glue: its tabs (panel-tab.ts, one xterm view and
 * one gateway connection each) report to one pure reducer (panel-model.ts); the controller carries
 * out the reducer's effects and draws its state: the tab strip, the status line
 * (panel-status-line.ts) and the busy question. What runs mean for their blocks is block-runs.ts's.
 *
 * Loaded by dynamic import from the panel element on the first Run (or on a page load where the
 * panel was open), side by side with xterm: pages where nobody runs anything never download it. It
 * does not wait for xterm: a tab's socket opens at once, its view follows (deferred-view.ts).
 */
import { DEFAULT_TERMINAL } from '../../protocol-values.ts';
import { BlockRuns } from './block-runs.ts';
import { BusyOffer } from './busy-offer.ts';
import { fetchLab, readerTerminals } from './lab-api.ts';
import { onLabReset } from '../lab/lab-reset-event.ts';
import { useLabProfile } from '../page/lab-tabs.ts';
import { PanelFrame } from './panel-frame.ts';
import { panelPart } from './panel-part.ts';
import { initialPanelModel, panelReducer, type PanelEffect, type PanelEvent, type PanelModel } from './panel-model.ts';
import { readPanelState } from '../page/panel-state.ts';
import { StatusBar } from './panel-status-bar.ts';
import { statusLine } from './panel-status-line.ts';
import { PanelTab, type PanelTabHost } from './panel-tab.ts';
import { PanelTabs } from './panel-tabs.ts';
import { PanelControls } from './panel-controls.ts';
import type { RunRequest } from '../page/run-request.ts';
import { SetupFollower } from './setup-follower.ts';
import { watchSiteTheme } from '../view/xterm-theme.ts';

const clock = (at: number) => new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

export class PanelController {
	readonly #frame: PanelFrame;
	readonly #tabStrip: PanelTabs;
	readonly #busyOffer: BusyOffer;
	readonly #controls: PanelControls;
	readonly #statusBar: StatusBar;
	readonly #tabs = new Map<string, PanelTab>();
	readonly #blocks = new BlockRuns();
	#model: PanelModel = initialPanelModel(DEFAULT_TERMINAL);
	/** The reader's existing terminals, fetched once when the panel first opens. */
	#sessionLoaded: Promise<void> | null = null;
	/** The answer to `GET /api/session` that the bootstrap got with the first Run, not yet validated. */
	#knownSession: unknown;
	readonly #setup = new SetupFollower((setup) => this.#dispatch({ kind: 'setup', setup }));

	constructor(root: HTMLElement) {
		this.#frame = new PanelFrame(root);
		this.#statusBar = new StatusBar(root, (action) => this.#dispatch({ kind: 'status-action', action }));
		this.#tabStrip = new PanelTabs(panelPart(root, 'tabs'), panelPart(root, 'terminals'), (tab, focusTerminal) => this.#activate(tab, focusTerminal));
		this.#busyOffer = new BusyOffer(root, (interrupt) => this.#dispatch({ kind: 'busy-answered', interrupt }));
		this.#controls = new PanelControls(root, {
			// The terminal gives up the rows the help takes.
			helpToggled: () => this.#tabs.get(this.#model.active)?.view.fit(),
			screenReaderMode: (on) => this.#tabs.forEach(({ view }) => view.setScreenReaderMode(on)),
			close: () => this.close(),
		});
		onLabReset((reset) => {
			this.#controls.resetting(reset.phase === 'started');
			this.#dispatch({ kind: 'lab-reset', reset });
		});
		watchSiteTheme((theme) => this.#tabs.forEach(({ view }) => view.setTheme(theme)));
		void fetchLab().then((lab) => {
			this.#controls.useLab(lab);
			useLabProfile(lab?.profile);
			this.#dispatch({ kind: 'lab', lab: lab && { profile: lab.profile ?? null, keepsShells: lab.keepsShells === true } });
		});
	}

	/** The bootstrap's answer to `GET /api/session`: used when the panel first opens, instead of asking again. */
	useSession(body: unknown): void {
		this.#knownSession ??= body;
	}

	/** Reopens the panel as it was on the previous page (the reader had it open). */
	async restore(): Promise<void> {
		this.#dispatch({ kind: 'activated', tab: readPanelState().active });
		await this.open();
	}

	/** Shows the panel and attaches every tab. */
	async open(): Promise<void> {
		this.#frame.show(this.#model.active);
		this.#sessionLoaded ??= this.#loadSession();
		await this.#sessionLoaded;
		this.#activate(this.#model.active, false);
		// Only detached tabs: an ended or failed one waits for the reader's "Start a new shell".
		for (const { connection } of this.#tabs.values()) if (connection.status.state === 'closed') connection.connect();
	}

	/**
	 * Hides the panel and detaches. The shells live on in the gateway (for its grace period), so
	 * opening the panel again, here or on another page, continues where the reader left off.
	 */
	close(): void {
		this.#dispatch({ kind: 'closed' });
		this.#controls.hide();
		for (const { connection } of this.#tabs.values()) connection.close();
		this.#frame.hide(this.#model.active);
	}

	/** Moves the keyboard into the active terminal (the Terminal button opens the panel this way) once it is attached. */
	focusTerminal(): void {
		this.#dispatch({ kind: 'focus', tab: this.#model.active });
	}

	/** Carries out a block's Run / Write to lab. */
	async run(request: RunRequest): Promise<void> {
		this.#blocks.started(request);
		await this.open();
		this.#activate(request.term, false);
		this.#frame.ranFrom(request.block, request.trigger);
		this.#tabs.get(request.term)!.connection.run({ code: request.code, block: request.block, interrupt: request.interrupt });
	}

	async #loadSession(): Promise<void> {
		// Terminals the reader opened elsewhere (e.g. "logs" on another page) come back as tabs.
		for (const name of await readerTerminals(this.#knownSession)) this.#ensureTab(name);
		if (!this.#tabs.has(this.#model.active)) this.#dispatch({ kind: 'activated', tab: DEFAULT_TERMINAL });
	}

	#ensureTab(name: string): PanelTab {
		const existing = this.#tabs.get(name);
		if (existing) return existing;
		if (name !== DEFAULT_TERMINAL) this.#ensureTab(DEFAULT_TERMINAL);
		const tab = new PanelTab(name, this.#tabStrip.add(name), this.#tabHost);
		this.#tabs.set(name, tab);
		this.#dispatch({ kind: 'tab-added', tab: name });
		return tab;
	}

	/** What the tabs' connections and views tell the panel. */
	readonly #tabHost: PanelTabHost = {
		screenReaderMode: () => this.#controls.screenReaderMode,
		blocks: this.#blocks,
		event: (event) => this.#dispatch(event),
	};

	#activate(name: string, focusTerminal: boolean): void {
		const tab = this.#ensureTab(name);
		this.#dispatch({ kind: 'activated', tab: name });
		this.#tabStrip.select(name);
		tab.view.fit();
		if (focusTerminal) tab.view.focus();
		this.#frame.remember(name);
	}

	/** Moves the panel's state on by `event`, does what that asks, and draws the result. */
	#dispatch(event: PanelEvent): void {
		const { model, effects } = panelReducer(this.#model, event);
		// Typing is an event too: a key that changes nothing draws nothing.
		if (model === this.#model && effects.length === 0) return;
		this.#model = model;
		for (const effect of effects) this.#carryOut(effect);
		this.#render();
	}

	#carryOut(effect: PanelEffect): void {
		switch (effect.kind) {
			case 'extend':
				return this.#tabs.get(effect.tab)?.connection.extend();
			case 'retry':
				return this.#tabs.get(effect.tab)?.connection.retryNow();
			case 'restart':
				return this.#tabs.get(effect.tab)?.restart();
			case 'connect':
				return effect.tabs.forEach((name) => this.#tabs.get(name)?.connection.retryNow());
			case 'screen':
				return this.#tabs.get(effect.tab)?.notify(effect.clear, effect.notices);
			case 'focus':
				return this.#tabs.get(effect.tab)?.view.focus();
			case 'follow-setup':
				return this.#setup.follow(effect.on);
			case 'interrupt':
				this.#blocks.started({ ...effect.run, term: effect.tab });
				this.#tabs.get(effect.tab)?.connection.run({ ...effect.run, interrupt: true });
				return this.#frame.focusTrigger(effect.run.block);
			case 'leave':
				this.#blocks.left(effect.run);
				return this.#frame.focusTrigger(effect.run.block);
		}
	}

	/** The tab strip, the status line with the one action that helps, and the busy question, from the state. */
	#render(): void {
		const model = this.#model;
		for (const [name, tab] of Object.entries(model.tabs)) this.#tabStrip.showState(name, tab.status, tab.busy);
		this.#busyOffer.show(model.busyQuestion);
		const line = statusLine(model, Date.now(), clock);
		if (line) this.#statusBar.show(line, model.tabs[model.active]!.status.state);
	}
}
