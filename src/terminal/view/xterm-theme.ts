/**
 * Terminal colours for Starlight's two themes. The background matches the site's (`--sl-color-black`
 * in each theme) so the docked panel reads as part of the page; the ANSI palettes are GitHub's
 * terminal palettes, chosen for legibility on those backgrounds.
 */
import type { ITheme } from '@xterm/xterm';

export type SiteTheme = 'dark' | 'light';

const dark: ITheme = {
	background: '#17191c',
	foreground: '#e6e8ee',
	cursor: '#b3c7ff',
	cursorAccent: '#17191c',
	selectionBackground: 'rgba(110, 140, 255, 0.35)',
	black: '#484f58',
	red: '#ff7b72',
	green: '#3fb950',
	yellow: '#d29922',
	blue: '#58a6ff',
	magenta: '#bc8cff',
	cyan: '#39c5cf',
	white: '#b1bac4',
	brightBlack: '#6e7681',
	brightRed: '#ffa198',
	brightGreen: '#56d364',
	brightYellow: '#e3b341',
	brightBlue: '#79c0ff',
	brightMagenta: '#d2a8ff',
	brightCyan: '#56d4dd',
	brightWhite: '#ffffff',
};

const light: ITheme = {
	background: '#ffffff',
	foreground: '#23262f',
	cursor: '#3447c4',
	cursorAccent: '#ffffff',
	selectionBackground: 'rgba(52, 71, 196, 0.22)',
	black: '#24292f',
	red: '#cf222e',
	green: '#116329',
	yellow: '#4d2d00',
	blue: '#0969da',
	magenta: '#8250df',
	cyan: '#1b7c83',
	white: '#6e7781',
	brightBlack: '#57606a',
	brightRed: '#a40e26',
	brightGreen: '#1a7f37',
	brightYellow: '#633c01',
	brightBlue: '#218bff',
	brightMagenta: '#a475f9',
	brightCyan: '#3192aa',
	brightWhite: '#8c959f',
};

export function xtermTheme(theme: SiteTheme): ITheme {
	return theme === 'light' ? light : dark;
}

/** The theme Starlight shows now (it sets `data-theme` on <html>, following the OS on "auto"). */
export function currentSiteTheme(): SiteTheme {
	return document.documentElement.dataset.theme === 'light' ? 'light' : 'dark';
}

/** Calls `onChange` whenever the reader switches the site's theme. Returns a function that stops watching. */
export function watchSiteTheme(onChange: (theme: SiteTheme) => void): () => void {
	const observer = new MutationObserver(() => onChange(currentSiteTheme()));
	observer.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
	return () => observer.disconnect();
}
