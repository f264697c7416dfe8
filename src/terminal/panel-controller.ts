/**
 * The terminal panel once a reader has used it, as glue: its tabs (panel-tab.ts, one xterm view and
 * one gateway connection each), the status line (a pure function of panel-model.ts's state), the
 * busy question, the toggles, resizing, and what runs mean for their blocks (block-runs.ts).
 *
 * Loaded by dynamic import from the panel element on the first Run (or on a page load where the
 * panel was open), side by side with xterm: pages where nobody runs anything never download it. It
 * does not wait for xterm: a tab's socket opens at once, its view follows (deferred-view.ts).
 */
import { DEFAULT_TERMINAL } from '../protocol-values.ts';
import { BlockRuns } from './block-runs.ts';
import { BusyOffer } from './busy-offer.ts';
import { fetchLab, fetchSession, readSession, type LabInfo } from './lab-api.ts';
import { onLabReset, requestLabReset, type LabResetEvent } from './lab-reset-event.ts';
import type { LabSetupWatch } from './lab-setup-watch.ts';
import { useLabProfile } from './lab-tabs.ts';
import { attachNotices, INITIAL_PANEL_MODEL, panelReducer, statusLine, type PanelEvent, type PanelModel, type StatusAction } from './panel-model.ts';
import { readPanelHeight, savePanelHeight } from './panel-prefs.ts';
import { attachPanelResize, clampPanelHeight } from './panel-resize.ts';
import { makeRoomForPanel } from './panel-room.ts';
import { readPanelState, savePanelState } from './panel-state.ts';
import { PanelTab, type PanelTabHost } from './panel-tab.ts';
import { PanelTabs } from './panel-tabs.ts';
import { PanelToggles } from './panel-toggles.ts';
import { attachResetConfirm, type ResetConfirm } from './reset-confirm.ts';
import type { RunRequest } from './run-request.ts';
import type { ConnectionStatus, TerminalRun } from './terminal-connection.ts';
import { watchSiteTheme } from './xterm-theme.ts';

/**
 * Default height: enough for a command and its output, leaving most of the window for reading. A
 * phone's header and the page's "On this page" bar take more of its height: the panel takes less.
 */
const DEFAULT_HEIGHT = () => Math.round(Math.min(360, window.innerHeight * (window.matchMedia('(max-width: 50rem)').matches ? 0.3 : 0.4)));

/**
 * Scrolls the block that was run into the part of the window the panel leaves free (the root's
 * scroll-padding, set while the panel is open, keeps the header and the panel out of it): the
 * reader sees the block, its result and where the focus is. A block taller than that keeps its
 * toolbar (Run and the result) in view.
 */
function keepInView(trigger: HTMLElement | null): void {
	if (!trigger?.isConnected) return;
	trigger.closest('.expressive-code')?.scrollIntoView({ block: 'nearest', behavior: 'instant' });
	(trigger.closest('.podlab-run') ?? trigger).scrollIntoView({ block: 'nearest', behavior: 'instant' });
}

function part<T extends HTMLElement>(root: HTMLElement, name: string): T {
	const element = root.querySelector<T>(`[data-panel-${name}]`);
	if (!element) throw new Error(`terminal panel: the markup has no [data-panel-${name}] element`);
	return element;
}

export class PanelController {
	readonly #root: HTMLElement;
	readonly #tabStrip: PanelTabs;
	readonly #status: HTMLElement;
	readonly #action: HTMLButtonElement;
	readonly #busyOffer: BusyOffer;
	readonly #toggles: PanelToggles;
	readonly #resetToggle: HTMLButtonElement;
	readonly #resetConfirm: ResetConfirm;
	readonly #tabs = new Map<string, PanelTab>();
	/** The button each block was run from, so focus can go back to it. */
	readonly #triggers = new Map<string, HTMLElement>();
	#active = DEFAULT_TERMINAL;
	#height: number;
	#lab: LabInfo | null = null;
	/** What the runs mean for their blocks on the page. */
	readonly #blocks = new BlockRuns();
	/** The status line's sources besides the connections (panel-model.ts). */
	#model: PanelModel = INITIAL_PANEL_MODEL;
	/** The terminal that gets the keyboard as soon as it is attached (see focusTerminal). */
	#focusOnAttach: string | null = null;
	/** The reader's existing terminals, fetched once when the panel first opens. */
	#sessionLoaded: Promise<void> | null = null;
	/**
	 * Tabs whose next shell is in the fresh lab: they keep their screen, which ends with the gateway's
	 * line about the reset, instead of being cleared as for a shell that ended while the page was away.
	 */
	#tabsBeingReset = new Set<string>();
	/** The answer to `GET /api/session` that the bootstrap got with the first Run, not yet validated. */
	#knownSession: unknown;
	/**
	 * Follows the lab's preparation while a tab waits for it (LAB_ERR_LAB_PREPARING); loaded only then,
	 * on the first start of a machine.
	 */
	#setupWatch: Promise<LabSetupWatch | null> | null = null;

	constructor(root: HTMLElement) {
		this.#root = root;
		this.#tabStrip = new PanelTabs(part(root, 'tabs'), part(root, 'terminals'), (name, focusTerminal) => this.#activate(name, focusTerminal));
		this.#status = part(root, 'status');
		this.#action = part(root, 'action');
		this.#busyOffer = new BusyOffer(
			{ dialog: part(root, 'busy'), text: part(root, 'busy-text'), interrupt: part(root, 'busy-interrupt'), cancel: part(root, 'busy-cancel') },
			(term, run, interrupt) => this.#answerBusyOffer(term, run, interrupt),
		);
		this.#toggles = new PanelToggles(
			{ help: part(root, 'help'), helpToggle: part(root, 'help-toggle'), screenReaderToggle: part(root, 'screen-reader'), grace: part(root, 'grace'), close: part(root, 'close') },
			{
				// The terminal gives up the rows the help takes.
				helpToggled: () => this.#tabs.get(this.#active)?.view.fit(),
				screenReaderMode: (on) => this.#tabs.forEach(({ view }) => view.setScreenReaderMode(on)),
			},
		);
		this.#resetToggle = part(root, 'reset-toggle');
		this.#resetConfirm = attachResetConfirm(
			{ trigger: this.#resetToggle, bar: part(root, 'reset'), confirm: part(root, 'reset-confirm'), cancel: part(root, 'reset-cancel') },
			() => void requestLabReset(),
		);
		onLabReset((event) => this.#onLabReset(event));
		this.#height = clampPanelHeight(readPanelHeight() ?? DEFAULT_HEIGHT(), window.innerHeight);

		part(root, 'close').addEventListener('click', () => this.close());

		attachPanelResize(part(root, 'resize'), () => this.#height, (height, done) => {
			this.#height = height;
			this.#root.style.height = `${height}px`;
			if (!this.#root.hidden) makeRoomForPanel(height);
			if (done) savePanelHeight(height);
		});
		watchSiteTheme((theme) => this.#tabs.forEach(({ view }) => view.setTheme(theme)));
		void fetchLab().then((lab) => {
			this.#lab = lab;
			this.#resetToggle.hidden = lab?.resettable !== true;
			this.#renderStatus();
			useLabProfile(lab?.profile);
			if (typeof lab?.graceMs === 'number') this.#toggles.describeClosing(lab.graceMs);
		});
	}

	/** The bootstrap's answer to `GET /api/session`: used when the panel first opens, instead of asking again. */
	useSession(body: unknown): void {
		this.#knownSession ??= body;
	}

	/** Reopens the panel as it was on the previous page (the reader had it open). */
	async restore(): Promise<void> {
		this.#active = readPanelState().active;
		await this.open();
	}

	/** Shows the panel and attaches every tab. */
	async open(): Promise<void> {
		this.#root.hidden = false;
		document.documentElement.dataset.podlabPanel = 'open';
		makeRoomForPanel(this.#height);
		this.#sessionLoaded ??= this.#loadSession();
		await this.#sessionLoaded;
		this.#ensureTab(this.#active);
		this.#activate(this.#active, false);
		// Only detached tabs: an ended or failed one waits for the reader's "Start a new shell".
		for (const { connection } of this.#tabs.values()) {
			if (connection.status.state === 'closed') connection.connect();
		}
		this.#saveState(true);
	}

	/**
	 * Hides the panel and detaches. The shells live on in the gateway (for its grace period), so
	 * opening the panel again, here or on another page, continues where the reader left off.
	 */
	close(): void {
		const hadFocus = this.#root.contains(document.activeElement);
		this.#busyOffer.hide();
		this.#resetConfirm.hide();
		for (const { connection } of this.#tabs.values()) connection.close();
		this.#root.hidden = true;
		delete document.documentElement.dataset.podlabPanel;
		makeRoomForPanel(null);
		this.#saveState(false);
		if (hadFocus) this.#lastTrigger()?.focus();
	}

	/**
	 * Moves the keyboard into the active terminal (the Terminal button opens the panel this way) once
	 * it is attached: keys typed before that would have no shell to go to.
	 */
	focusTerminal(): void {
		const entry = this.#tabs.get(this.#active);
		if (entry?.connection.status.state === 'connected') entry.view.focus();
		else this.#focusOnAttach = this.#active;
	}

	/** Carries out a block's Run / Write to lab. */
	async run(request: RunRequest): Promise<void> {
		if (request.trigger) this.#triggers.set(request.block, request.trigger);
		this.#blocks.started(request);
		await this.open();
		this.#ensureTab(request.term);
		this.#activate(request.term, false);
		keepInView(request.trigger);
		this.#tabs.get(request.term)!.connection.run({ code: request.code, block: request.block, interrupt: request.interrupt });
	}

	async #loadSession(): Promise<void> {
		const session = readSession(this.#knownSession) ?? (await fetchSession());
		// Terminals the reader opened elsewhere (e.g. "logs" on another page) come back as tabs.
		for (const { name } of session?.terminals ?? []) this.#ensureTab(name);
		if (!this.#tabs.has(this.#active)) this.#active = DEFAULT_TERMINAL;
	}

	#ensureTab(name: string): PanelTab {
		const existing = this.#tabs.get(name);
		if (existing) return existing;
		if (name !== DEFAULT_TERMINAL && !this.#tabs.has(DEFAULT_TERMINAL)) this.#ensureTab(DEFAULT_TERMINAL);
		const tab = new PanelTab(name, this.#tabStrip.add(name), this.#tabHost);
		this.#tabs.set(name, tab);
		this.#renderTab(tab);
		return tab;
	}

	/** What the tabs' connections and views tell the panel. */
	readonly #tabHost: PanelTabHost = {
		screenReaderMode: () => this.#toggles.screenReaderMode,
		blocks: this.#blocks,
		// Typing is activity: the gateway moves the idle limit, so the warning is void.
		typed: () => {
			if (this.#model.expiry?.reason === 'idle') this.#dispatch({ kind: 'typed' });
		},
		status: (tab, status) => this.#onStatus(tab, status),
		busy: (tab) => this.#renderTab(tab),
		attached: (tab, { newShell, lost }) => {
			// Only a new shell is in the fresh lab: a tab that reattached to its old one was not reset.
			const afterReset = newShell && this.#tabsBeingReset.delete(tab.name);
			const { clear, notices } = attachNotices({ newShell, lost, afterReset, keepsShells: this.#lab?.keepsShells === true });
			if (clear) tab.view.reset();
			for (const notice of notices) tab.view.notice(notice);
			// The gateway says again after `ready` if the instructor is still typing (not after its restart).
			this.#dispatch({ kind: 'attached' });
			if (this.#focusOnAttach === tab.name) {
				this.#focusOnAttach = null;
				tab.view.focus();
			}
		},
		refused: (tab, run) => {
			this.#blocks.refused(run);
			this.#busyOffer.ask(tab.name, run);
		},
		event: (event) => this.#dispatch(event),
	};

	#activate(name: string, focusTerminal: boolean): void {
		const entry = this.#tabs.get(name);
		if (!entry) return;
		this.#active = name;
		this.#tabStrip.select(name);
		entry.view.fit();
		if (focusTerminal) entry.view.focus();
		this.#renderStatus();
		if (!this.#root.hidden) this.#saveState(true);
	}

	#onStatus(entry: PanelTab, status: ConnectionStatus): void {
		// Attached again (to the same shell, if the reset never happened): the next new shell is cleared as usual.
		if (status.state === 'connected') this.#tabsBeingReset.delete(entry.name);
		// A reset from anywhere (this page, another one, the instructor): the next shell is in the fresh lab.
		if (status.state === 'reconnecting' && status.code === 'LAB_ERR_LAB_RESET') this.#tabsBeingReset.add(entry.name);
		this.#renderTab(entry);
		if (entry.name === this.#active) this.#renderStatus();
		if (status.state === 'ended' || status.state === 'failed') {
			if (this.#busyOffer.term === entry.name) this.#busyOffer.hide();
		}
		if (this.#waitingForLab().length > 0) {
			// Not loaded (a flaky network): the status line keeps the gateway's own words, and the Run still waits.
			this.#setupWatch ??= import('./lab-setup-watch.ts').then(
				({ watchSetupBriefly }) => watchSetupBriefly((setup) => this.#dispatch({ kind: 'setup', setup })),
				() => null,
			);
			void this.#setupWatch.then((watch) => (this.#waitingForLab().length > 0 ? watch?.start() : watch?.stop()));
		} else {
			void this.#setupWatch?.then((watch) => watch?.stop());
		}
	}

	/** Tabs whose lab is being prepared: they wait, and try again once it is ready. */
	#waitingForLab(): PanelTab[] {
		return [...this.#tabs.values()].filter(({ connection }) => connection.status.state === 'reconnecting' && connection.status.code === 'LAB_ERR_LAB_PREPARING');
	}

	/** Moves the panel's model on by `event`, does what that asks, and shows the result. */
	#dispatch(event: PanelEvent): void {
		const { model, effects } = panelReducer(this.#model, event);
		this.#model = model;
		for (const effect of effects) {
			switch (effect.kind) {
				case 'extend':
					this.#tabs.get(this.#active)?.connection.extend();
					break;
				case 'connect-waiting':
					// The lab is ready: the waiting tabs connect now rather than at their next retry.
					for (const { connection } of this.#waitingForLab()) connection.retryNow();
					break;
			}
		}
		this.#renderStatus();
	}

	#renderTab(entry: PanelTab): void {
		this.#tabStrip.showState(entry.name, entry.connection.status, entry.busy);
	}

	/** The status line describes the active tab's connection, with the one action that helps (panel-model.ts). */
	#renderStatus(): void {
		const entry = this.#tabs.get(this.#active);
		if (!entry) return;
		const status = entry.connection.status;
		const clock = (at: number) => new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
		const { text, action } = statusLine(this.#model, { name: entry.name, status }, this.#lab?.profile ?? null, Date.now(), clock);
		const actions: Record<StatusAction, () => void> = {
			stay: () => this.#dispatch({ kind: 'stay' }),
			retry: () => entry.connection.retryNow(),
			restart: () => entry.restart(),
			'dismiss-notice': () => this.#dispatch({ kind: 'notice-dismissed' }),
			'dismiss-reset': () => this.#dispatch({ kind: 'lab-reset-dismissed' }),
		};
		this.#status.textContent = text;
		this.#root.dataset.state = status.state;
		this.#action.hidden = action === null;
		if (action) {
			this.#action.textContent = action.label;
			this.#action.onclick = actions[action.kind];
		}
	}

	#onLabReset(event: LabResetEvent): void {
		this.#resetConfirm.setBusy(event.phase === 'started');
		// Every shell of the reader ends with the old lab; a failed reset ends none.
		if (event.phase === 'started') this.#tabsBeingReset = new Set(this.#tabs.keys());
		if (event.phase === 'failed') this.#tabsBeingReset.clear();
		this.#dispatch({ kind: 'lab-reset', reset: event });
	}

	#answerBusyOffer(term: string, run: TerminalRun, interrupt: boolean): void {
		if (interrupt) {
			this.#blocks.started({ ...run, term });
			this.#tabs.get(term)?.connection.run({ ...run, interrupt: true });
		} else {
			this.#blocks.left(run);
		}
		this.#triggers.get(run.block)?.focus();
	}

	#lastTrigger(): HTMLElement | undefined {
		return [...this.#triggers.values()].reverse().find((trigger) => trigger.isConnected);
	}

	#saveState(open: boolean): void {
		savePanelState({ open, active: this.#active });
	}
}
