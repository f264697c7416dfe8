/**
 * One terminal on screen: an xterm.js instance sized to its container, in the site's theme, with
 * copy/paste shortcuts and a way out for keyboard users. Bytes in, keystrokes out; it knows nothing
 * about sockets.
 *
 * Only xterm.js and the fit addon load with it: the first output of the first Run waits for nothing
 * else. The optional addons come later, each when it earns its download — clickable links when a
 * pointer first moves over the terminal, the WebGL renderer when a flood of output arrives and a GPU
 * draws WebGL — and never before the first output has been drawn. Until then xterm's DOM renderer
 * draws.
 */
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
// Inlined into this lazily loaded chunk and injected on first use: Astro does not emit CSS that
// is imported by a dynamically imported client module, and a page without a terminal needs none.
import { copyText } from '../page/clipboard.ts';
import { gpuWebgl2 } from './gpu-webgl.ts';
import { injectXtermStyles } from './xterm-styles.ts';
import { xtermTheme, type SiteTheme } from './xterm-theme.ts';

export interface TerminalViewOptions {
	theme: SiteTheme;
	screenReaderMode: boolean;
	/** Keystrokes and pastes, as bytes for the pty. */
	onInput(bytes: Uint8Array): void;
	/** The terminal's size in cells changed (the pty should follow). */
	onResize(cols: number, rows: number): void;
	/** The reader pressed Shift+Tab: move focus out of the terminal, which otherwise keeps Tab for the shell. */
	onLeave(): void;
}

/** Lines of history kept in the browser (the gateway keeps its own scrollback for replay). */
const SCROLLBACK_LINES = 5_000;

/**
 * Output that makes the WebGL renderer worth loading: this many bytes within {@link FLOOD_WINDOW_MS}.
 * A command's usual output (a listing, a log tail) stays far below it; `yes`, `dmesg` or a build log
 * pass it in well under a second.
 */
const FLOOD_BYTES = 256 * 1024;
const FLOOD_WINDOW_MS = 1_000;

/**
 * The WebGL renderer sizes its canvas from the browser's device-pixel box, the other layers (such
 * as the link layer) from xterm's own device pixel ratio. Where those disagree — Chromium's device
 * emulation, some headless setups — it draws nothing visible at all. They should match to within
 * rounding.
 */
function webglCanvasAgrees(container: HTMLElement): boolean {
	const canvases = [...container.querySelectorAll<HTMLCanvasElement>('.xterm-screen > canvas')];
	const linkLayer = canvases.find((canvas) => canvas.classList.contains('xterm-link-layer'));
	const webgl = canvases.find((canvas) => canvas !== linkLayer);
	if (!linkLayer || !webgl || linkLayer.width === 0) return true;
	return Math.abs(webgl.width / linkLayer.width - 1) < 0.1;
}

const nextFrames = (count: number) =>
	new Promise<void>((resolve) => {
		const step = (left: number) => (left === 0 ? resolve() : requestAnimationFrame(() => step(left - 1)));
		step(count);
	});

export class TerminalView {
	readonly #terminal: Terminal;
	readonly #fit = new FitAddon();
	readonly #container: HTMLElement;
	readonly #resizeObserver: ResizeObserver;
	readonly #encoder = new TextEncoder();
	#fitScheduled = false;
	#disposed = false;
	/** The first output has been drawn: optional addons may load from now on. */
	#firstOutputDrawn = false;
	#firstOutputPending = false;
	#pointerSeen = false;
	#flooded = false;
	#linksRequested = false;
	#webglRequested = false;
	/** Bytes written in the current flood window, and when that window started. */
	#windowBytes = 0;
	#windowStartedAt = 0;

	constructor(container: HTMLElement, options: TerminalViewOptions) {
		this.#container = container;
		injectXtermStyles();
		const fontFamily = getComputedStyle(document.documentElement).getPropertyValue('--__sl-font-mono').trim();
		this.#terminal = new Terminal({
			fontFamily: fontFamily || 'ui-monospace, monospace',
			fontSize: 14,
			scrollback: SCROLLBACK_LINES,
			cursorBlink: true,
			theme: xtermTheme(options.theme),
			// Keeps dim and coloured output readable on both themes.
			minimumContrastRatio: 4.5,
			screenReaderMode: options.screenReaderMode,
		});
		this.#terminal.loadAddon(this.#fit);
		this.#terminal.onData((data) => options.onInput(this.#encoder.encode(data)));
		// onBinary carries raw bytes as a binary string (one char per byte), e.g. some mouse reports.
		this.#terminal.onBinary((data) => options.onInput(Uint8Array.from(data, (char) => char.charCodeAt(0) & 0xff)));
		this.#terminal.onResize(({ cols, rows }) => options.onResize(cols, rows));
		this.#terminal.attachCustomKeyEventHandler((event) => this.#onKey(event, options));
		this.#terminal.open(container);
		// Fitted at once, not in the next frame: the pty gets the screen's size before the first run is typed.
		this.#fitNow();
		this.#resizeObserver = new ResizeObserver(() => this.fit());
		this.#resizeObserver.observe(container);
		container.addEventListener('pointermove', () => this.#onPointer(), { passive: true, once: true });
		void this.#loadFallbackFonts(this.#terminal.options.fontFamily!);
	}

	get cols(): number {
		return this.#terminal.cols;
	}

	get rows(): number {
		return this.#terminal.rows;
	}

	/** Writes output; `rendered` runs once xterm has processed it (the flow-control ack). */
	write(bytes: Uint8Array, rendered: () => void): void {
		this.#terminal.write(bytes, () => {
			rendered();
			if (!this.#firstOutputPending && !this.#firstOutputDrawn) this.#awaitFirstDraw();
		});
		this.#countForFlood(bytes.length);
	}

	/** A dim line from the panel itself (not shell output): replay gaps, new shells. */
	notice(text: string): void {
		this.#terminal.write(`\r\n\x1b[2m[${text}]\x1b[0m\r\n`);
	}

	/** Clears everything: the shell on screen is not the one that continues. */
	reset(): void {
		this.#terminal.reset();
	}

	focus(): void {
		this.#terminal.focus();
	}

	setTheme(theme: SiteTheme): void {
		this.#terminal.options.theme = xtermTheme(theme);
	}

	setScreenReaderMode(on: boolean): void {
		this.#terminal.options.screenReaderMode = on;
	}

	/** Fits the terminal to its container, at most once per frame, and only while it is visible. */
	fit(): void {
		if (this.#fitScheduled || this.#disposed) return;
		this.#fitScheduled = true;
		requestAnimationFrame(() => {
			this.#fitScheduled = false;
			this.#fitNow();
		});
	}

	dispose(): void {
		this.#disposed = true;
		this.#resizeObserver.disconnect();
		this.#terminal.dispose();
	}

	#fitNow(): void {
		if (this.#disposed || this.#container.clientWidth === 0 || this.#container.clientHeight === 0) return;
		this.#fit.fit();
	}

	/** Output was parsed: the next render draws it. */
	#awaitFirstDraw(): void {
		this.#firstOutputPending = true;
		const subscription = this.#terminal.onRender(() => {
			subscription.dispose();
			this.#firstOutputDrawn = true;
			this.#loadOptionalAddons();
		});
	}

	#onPointer(): void {
		if (this.#pointerSeen) return;
		this.#pointerSeen = true;
		this.#loadOptionalAddons();
	}

	#countForFlood(bytes: number): void {
		if (this.#flooded) return;
		const now = performance.now();
		if (now - this.#windowStartedAt > FLOOD_WINDOW_MS) {
			this.#windowStartedAt = now;
			this.#windowBytes = 0;
		}
		this.#windowBytes += bytes;
		if (this.#windowBytes < FLOOD_BYTES) return;
		this.#flooded = true;
		this.#loadOptionalAddons();
	}

	/** Each optional addon once its reason has come, and only after the first output is on screen. */
	#loadOptionalAddons(): void {
		if (!this.#firstOutputDrawn || this.#disposed) return;
		if (this.#pointerSeen && !this.#linksRequested) {
			this.#linksRequested = true;
			void this.#loadWebLinks();
		}
		if (this.#flooded && !this.#webglRequested) {
			this.#webglRequested = true;
			void this.#loadWebgl();
		}
	}

	/** URLs in the output become links; only a pointer can follow them, so they wait for one. */
	async #loadWebLinks(): Promise<void> {
		try {
			const { WebLinksAddon } = await import('@xterm/addon-web-links');
			if (!this.#disposed) this.#terminal.loadAddon(new WebLinksAddon());
		} catch (error) {
			console.info('[podlab] links in the terminal are not clickable (the addon did not load):', error);
		}
	}

	#onKey(event: KeyboardEvent, options: TerminalViewOptions): boolean {
		if (event.type !== 'keydown') return true;
		const key = event.key.toLowerCase();
		const modifier = event.ctrlKey || event.metaKey;
		// Ctrl+Shift+C always copies; plain Ctrl+C copies only a selection, otherwise it is the interrupt.
		if (modifier && key === 'c' && (event.shiftKey || this.#terminal.hasSelection())) {
			if (this.#terminal.hasSelection()) void copyText(this.#terminal.getSelection());
			event.preventDefault();
			return false;
		}
		if (key === 'v' && modifier) {
			// Ctrl+Alt+V: the one way left to send a literal ^V (readline's quoted-insert, vim's block selection).
			if (event.ctrlKey && event.altKey && !event.shiftKey && !event.metaKey) {
				event.preventDefault();
				options.onInput(this.#encoder.encode('\x16'));
				return false;
			}
			// Ctrl+V, Cmd+V, Ctrl+Shift+V: let the browser paste (xterm receives the paste event), as
			// readers expect in a browser; sent as ^V, the next Enter would go in as a literal ^M.
			if (!event.altKey) return false;
		}
		if (event.key === 'Tab' && event.shiftKey && !modifier && !event.altKey) {
			event.preventDefault();
			options.onLeave();
			return false;
		}
		return true;
	}

	/**
	 * A canvas renderer draws a glyph with whatever font is loaded at that moment, and keeps it: faces
	 * of the stack that load on demand (unicode-range, such as the site's CJK font for 鹿乃) are loaded
	 * now, and glyphs drawn before they arrived are drawn again.
	 */
	async #loadFallbackFonts(fontFamily: string): Promise<void> {
		try {
			const faces = await document.fonts.load(`14px ${fontFamily}`, '鹿乃');
			if (faces.length > 0 && !this.#disposed) this.#terminal.clearTextureAtlas();
		} catch {
			// No font loading API, or the font is unreachable: the system's fallback draws them.
		}
	}

	/**
	 * The WebGL renderer draws floods of output with less work per frame than the DOM renderer, when a
	 * GPU draws it; it is optional. Loaded when a flood starts, and only where a GPU draws WebGL2 (on
	 * the CPU the DOM renderer is ten times faster). Disposing the addon puts xterm back on its DOM
	 * renderer: done when the GPU context is lost, or when the renderer would draw nothing.
	 */
	async #loadWebgl(): Promise<void> {
		const gpu = gpuWebgl2();
		if (gpu.renderer === null) {
			console.info(`[podlab] ${gpu.why}: the DOM renderer draws the terminal`);
			return;
		}
		try {
			const { WebglAddon } = await import('@xterm/addon-webgl');
			if (this.#disposed) return;
			const webgl = new WebglAddon();
			webgl.onContextLoss(() => webgl.dispose());
			this.#terminal.loadAddon(webgl);
			// The device-pixel observer reports after layout: give it a few frames before checking.
			await nextFrames(3);
			if (!this.#disposed && !webglCanvasAgrees(this.#container)) {
				console.info('[podlab] the WebGL renderer does not match this display; using the DOM renderer');
				webgl.dispose();
			}
		} catch (error) {
			console.info('[podlab] WebGL renderer unavailable, using the DOM renderer:', error);
		}
	}
}
