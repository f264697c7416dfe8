/**
 * A terminal's place in the panel while xterm.js is still downloading. The panel opens the socket at
 * once and gives this what it would give the view — output, notices, focus — and it hands all of it
 * to the real view (xterm-view.ts) in the order it came, as soon as that has loaded. Output waits
 * here, not in the socket: nothing is lost or reordered, and its `rendered` callbacks (the
 * flow-control acks) run only when xterm has processed it, as for output that arrives later.
 *
 * The size is what waits the other way: the real view reports it through `onResize` when it is
 * created, fitted to the panel, and the connection types no run before that (`runsWaitForSize`).
 */
import type { SiteTheme } from '../view/xterm-theme.ts';
import type { TerminalView, TerminalViewOptions } from '../view/xterm-view.ts';

type ViewCall = (view: TerminalView) => void;

export class DeferredTerminalView {
	#view: TerminalView | null = null;
	/** Calls made before the view existed, in order. */
	#waiting: ViewCall[] = [];
	#theme: SiteTheme;
	#screenReaderMode: boolean;

	constructor(container: HTMLElement, options: TerminalViewOptions) {
		this.#theme = options.theme;
		this.#screenReaderMode = options.screenReaderMode;
		// The same module the panel's bootstrap started downloading with the first Run: one download.
		import('../view/xterm-view.ts').then(
			({ TerminalView }) => {
				const view = new TerminalView(container, { ...options, theme: this.#theme, screenReaderMode: this.#screenReaderMode });
				this.#view = view;
				options.onResize(view.cols, view.rows);
				for (const call of this.#waiting.splice(0)) call(view);
			},
			(error: unknown) => console.error('[podlab] the terminal could not be loaded:', error),
		);
	}

	/** Writes output; `rendered` runs once xterm has processed it (the flow-control ack). */
	write(bytes: Uint8Array, rendered: () => void): void {
		this.#call((view) => view.write(bytes, rendered));
	}

	/** A dim line from the panel itself (not shell output). */
	notice(text: string): void {
		this.#call((view) => view.notice(text));
	}

	reset(): void {
		this.#call((view) => view.reset());
	}

	focus(): void {
		this.#call((view) => view.focus());
	}

	setTheme(theme: SiteTheme): void {
		this.#theme = theme;
		this.#view?.setTheme(theme);
	}

	setScreenReaderMode(on: boolean): void {
		this.#screenReaderMode = on;
		this.#view?.setScreenReaderMode(on);
	}

	/** Fits the view to its container; a view created later is fitted when it is created. */
	fit(): void {
		this.#view?.fit();
	}

	#call(call: ViewCall): void {
		if (this.#view) call(this.#view);
		else this.#waiting.push(call);
	}
}
