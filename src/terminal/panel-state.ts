/**
 * What the panel remembers across page loads. Open/closed and the active tab are per browser tab
 * (sessionStorage): the panel follows the reader from chapter to chapter. The height and screen
 * reader mode are preferences (localStorage). Storage may be unavailable (privacy modes): then
 * nothing is remembered and nothing breaks.
 */

const SESSION_KEY = 'podlab:panel';
const HEIGHT_KEY = 'podlab:panel-height';
const SCREEN_READER_KEY = 'podlab:screen-reader-mode';

export interface PanelSessionState {
	open: boolean;
	active: string;
}

function read(storage: () => Storage, key: string): string | null {
	try {
		return storage().getItem(key);
	} catch {
		return null;
	}
}

function write(storage: () => Storage, key: string, value: string): void {
	try {
		storage().setItem(key, value);
	} catch {
		// Not remembered; the panel still works for this page.
	}
}

export function readPanelState(): PanelSessionState {
	const fallback: PanelSessionState = { open: false, active: 'main' };
	try {
		const value: unknown = JSON.parse(read(() => sessionStorage, SESSION_KEY) ?? 'null');
		if (typeof value !== 'object' || value === null) return fallback;
		const { open, active } = value as Record<string, unknown>;
		return { open: open === true, active: typeof active === 'string' ? active : 'main' };
	} catch {
		return fallback;
	}
}

export function savePanelState(state: PanelSessionState): void {
	write(() => sessionStorage, SESSION_KEY, JSON.stringify(state));
}

/** The panel height in CSS pixels the reader chose, if any. */
export function readPanelHeight(): number | null {
	const value = Number(read(() => localStorage, HEIGHT_KEY));
	return Number.isFinite(value) && value > 0 ? value : null;
}

export function savePanelHeight(height: number): void {
	write(() => localStorage, HEIGHT_KEY, String(Math.round(height)));
}

export function readScreenReaderMode(): boolean {
	return read(() => localStorage, SCREEN_READER_KEY) === 'on';
}

export function saveScreenReaderMode(on: boolean): void {
	write(() => localStorage, SCREEN_READER_KEY, on ? 'on' : 'off');
}
