/**
 * The reader's preferences for the panel (localStorage, for every page and tab): its height and
 * screen reader mode.
 */
import { readStored, writeStored } from '../page/storage.ts';

const HEIGHT_KEY = 'podlab:panel-height';
const SCREEN_READER_KEY = 'podlab:screen-reader-mode';

/** The panel height in CSS pixels the reader chose, if any. */
export function readPanelHeight(): number | null {
	const value = Number(readStored(() => localStorage, HEIGHT_KEY));
	return Number.isFinite(value) && value > 0 ? value : null;
}

export function savePanelHeight(height: number): void {
	writeStored(() => localStorage, HEIGHT_KEY, String(Math.round(height)));
}

export function readScreenReaderMode(): boolean {
	return readStored(() => localStorage, SCREEN_READER_KEY) === 'on';
}

export function saveScreenReaderMode(on: boolean): void {
	writeStored(() => localStorage, SCREEN_READER_KEY, on ? 'on' : 'off');
}
