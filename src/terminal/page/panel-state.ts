/**
 * What the panel remembers across page loads, per browser tab (sessionStorage): open or closed and
 * the active tab, so the panel follows the reader from chapter to chapter. The bootstrap reads it
 * on every page; the reader's preferences are in panel-prefs.ts, which only the open panel loads.
 */
import { readStored, writeStored } from './storage.ts';

const SESSION_KEY = 'podlab:panel';

export interface PanelSessionState {
	open: boolean;
	active: string;
}

export function readPanelState(): PanelSessionState {
	const fallback: PanelSessionState = { open: false, active: 'main' };
	try {
		const value: unknown = JSON.parse(readStored(() => sessionStorage, SESSION_KEY) ?? 'null');
		if (typeof value !== 'object' || value === null) return fallback;
		const { open, active } = value as Record<string, unknown>;
		return { open: open === true, active: typeof active === 'string' ? active : 'main' };
	} catch {
		return fallback;
	}
}

export function savePanelState(state: PanelSessionState): void {
	writeStored(() => sessionStorage, SESSION_KEY, JSON.stringify(state));
}
