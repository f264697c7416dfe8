/**
 * One terminal of the panel: its tab and panel (panel-tabs.ts), its xterm view (loaded alongside,
 * deferred-view.ts) and its gateway connection, wired together. What the connection says goes to
 * the panel (`PanelTabHost`), which decides what it means for the status line and the blocks.
 */
import type { BlockRuns } from './block-runs.ts';
import { DeferredTerminalView } from './deferred-view.ts';
import { gatewayAnswers } from './gateway-probe.ts';
import type { PanelEvent } from './panel-model.ts';
import type { TabParts } from './panel-tabs.ts';
import { openBrowserSocket, TerminalConnection, type ConnectionStatus, type TerminalRun } from './terminal-connection.ts';
import { socketUrl } from './urls.ts';
import { currentSiteTheme } from './xterm-theme.ts';

export interface PanelTabHost {
	screenReaderMode(): boolean;
	readonly blocks: BlockRuns;
	/** The reader typed into this terminal. */
	typed(): void;
	status(tab: PanelTab, status: ConnectionStatus): void;
	/** The terminal started or finished running a command. */
	busy(tab: PanelTab): void;
	attached(tab: PanelTab, attach: { newShell: boolean; lost: number }): void;
	/** The gateway refused `run`: the terminal is busy. */
	refused(tab: PanelTab, run: TerminalRun): void;
	/** Class mode's news for the panel: expiry, the instructor typing, a message. */
	event(event: PanelEvent): void;
}

export class PanelTab {
	readonly name: string;
	readonly parts: TabParts;
	readonly view: DeferredTerminalView;
	readonly connection: TerminalConnection;
	/** Running a command (the gateway's `status`). */
	busy = false;

	constructor(name: string, parts: TabParts, host: PanelTabHost) {
		this.name = name;
		this.parts = parts;
		this.view = new DeferredTerminalView(parts.panel, {
			theme: currentSiteTheme(),
			screenReaderMode: host.screenReaderMode(),
			onInput: (bytes) => {
				this.connection.input(bytes);
				host.typed();
			},
			onResize: (cols, rows) => this.connection.resize(cols, rows),
			onLeave: () => parts.tab.focus(),
		});
		this.connection = new TerminalConnection({
			term: name,
			url: socketUrl(),
			openSocket: openBrowserSocket,
			probe: async () => (await gatewayAnswers()).state === 'ready',
			// Shown on the instructor's roster in class mode; the gateway keeps only the latest.
			attach: { page: location.pathname },
			// The socket opens before xterm has loaded; runs wait for the view's size.
			runsWaitForSize: true,
			listener: {
				status: (status) => host.status(this, status),
				output: (bytes, rendered) => {
					this.view.write(bytes, rendered);
					host.blocks.output(name, bytes);
				},
				attached: ({ newShell, lost }) => host.attached(this, { newShell, lost }),
				busy: (busy) => {
					this.busy = busy;
					host.busy(this);
				},
				done: (block, exit) => host.blocks.done(block, exit),
				runRefused: (run) => host.refused(this, run),
				runUndelivered: (run, reason) => void host.blocks.undelivered(run, reason),
				resultsLost: (blocks) => host.blocks.lost(blocks),
				expiry: (reason, at) => host.event({ kind: 'expiry', reason, at }),
				takeover: (on) => host.event({ kind: 'takeover', on }),
				notice: (text) => host.event({ kind: 'notice', text }),
			},
		});
	}

	/** A new shell after the old one ended: a clear screen, and the keyboard in it. */
	restart(): void {
		this.view.reset();
		this.connection.restart();
		this.view.focus();
	}
}
