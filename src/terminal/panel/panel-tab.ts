/**
 * One terminal of the panel: its tab and panel (panel-tabs.ts), its xterm view (loaded alongside,
 * deferred-view.ts) and its gateway connection, wired together. What the connection says goes to
 * the panel's state as events (`PanelTabHost`), and what it means for the blocks to block-runs.ts.
 */
import type { BlockRuns } from './block-runs.ts';
import { DeferredTerminalView } from './deferred-view.ts';
import { gatewayAnswers } from '../page/gateway-probe.ts';
import type { PanelEvent } from './panel-model.ts';
import type { TabParts } from './panel-tabs.ts';
import { openBrowserSocket } from '../connection/browser-socket.ts';
import { TerminalConnection } from '../connection/terminal-connection.ts';
import { socketUrl } from '../page/urls.ts';
import { currentSiteTheme } from '../view/xterm-theme.ts';

export interface PanelTabHost {
	screenReaderMode(): boolean;
	readonly blocks: BlockRuns;
	/** What the connection says, for the panel's state (panel-model.ts). */
	event(event: PanelEvent): void;
}

export class PanelTab {
	readonly name: string;
	readonly parts: TabParts;
	readonly view: DeferredTerminalView;
	readonly connection: TerminalConnection;

	constructor(name: string, parts: TabParts, host: PanelTabHost) {
		this.name = name;
		this.parts = parts;
		this.view = new DeferredTerminalView(parts.panel, {
			theme: currentSiteTheme(),
			screenReaderMode: host.screenReaderMode(),
			onInput: (bytes) => {
				this.connection.input(bytes);
				host.event({ kind: 'typed' });
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
				status: (status) => host.event({ kind: 'status', tab: name, status }),
				output: (bytes, rendered) => {
					this.view.write(bytes, rendered);
					host.blocks.output(name, bytes);
				},
				attached: ({ newShell, lost }) => host.event({ kind: 'attached', tab: name, newShell, lost }),
				busy: (busy) => host.event({ kind: 'busy', tab: name, busy }),
				done: (block, exit) => host.blocks.done(block, exit),
				runRefused: (run) => {
					host.blocks.refused(run);
					host.event({ kind: 'run-refused', tab: name, run });
				},
				runUndelivered: (run, reason) => void host.blocks.undelivered(run, reason),
				resultsLost: (blocks) => host.blocks.lost(blocks),
				expiry: (reason, at) => host.event({ kind: 'expiry', reason, at }),
				takeover: (on) => host.event({ kind: 'takeover', on }),
				notice: (text) => host.event({ kind: 'notice', text }),
			},
		});
	}

	/** Notices on the screen (after clearing it, if `clear`): see attachNotices. */
	notify(clear: boolean, notices: readonly string[]): void {
		if (clear) this.view.reset();
		for (const notice of notices) this.view.notice(notice);
	}

	/** A new shell after the old one ended: a clear screen, and the keyboard in it. */
	restart(): void {
		this.view.reset();
		this.connection.restart();
		this.view.focus();
	}
}
