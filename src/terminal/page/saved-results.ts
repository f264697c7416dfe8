/**
 * The reader's ✓/✗ across reloads, chapters and visits: the gateway keeps each block's last result
 * (`GET /api/results`); at page load they go back onto this page's blocks, and the sidebar shows
 * each chapter's progress ("4/11"), counted against the site's block list (`/podlab-blocks.json`)
 * for the lab the reader reads for. Runs that finish while the page is open count at once.
 *
 * Part of every page's small bootstrap: no zod, no protocol module; the answers are checked by hand
 * (their schema is `blockResultsResponse` in src/protocol.ts). The sidebar's progress is a module of
 * its own (sidebar-progress.ts), loaded once there is a result to count: a first visit never needs it.
 */
import { showBlockResult } from './block-status.ts';
import { STATUS_ATTRIBUTE } from './run-request.ts';
import { apiUrl, getJson } from './urls.ts';

/** Block id → last exit status, as the gateway and this page know them. */
const results = new Map<string, number>();

/** `{ blocks: { id: { exit } } }` → id → exit; anything else → nothing. */
export function exitsOf(answer: unknown): Map<string, number> {
	const exits = new Map<string, number>();
	const blocks = typeof answer === 'object' && answer !== null ? (answer as { blocks?: unknown }).blocks : null;
	if (typeof blocks !== 'object' || blocks === null) return exits;
	for (const [block, result] of Object.entries(blocks)) {
		const exit = typeof result === 'object' && result !== null ? (result as { exit?: unknown }).exit : null;
		if (Number.isInteger(exit)) exits.set(block, exit as number);
	}
	return exits;
}

/** The status element of a block on this page, if it is here. */
function statusOf(block: string): HTMLElement | null {
	return document.querySelector<HTMLElement>(`.podlab-run:has([data-podlab-block="${CSS.escape(block)}"]) [${STATUS_ATTRIBUTE}]`);
}

/**
 * At page load: puts the reader's saved results on this page's blocks (where nothing newer shows)
 * and the chapters' progress in the sidebar. Without a gateway or results, nothing changes.
 */
export async function showSavedResults(): Promise<void> {
	const saved = exitsOf(await getJson(apiUrl('results'), 5_000));
	for (const [block, exit] of saved) {
		// A run started on this page since (or its result) is newer than the saved one.
		if (results.has(block)) continue;
		results.set(block, exit);
		if (!statusOf(block)?.dataset.state) showBlockResult(block, exit);
	}
	if (results.size > 0) await renderProgress();
}

/** The sidebar's progress, its module loaded when first needed; if that fails, the sidebar stays as it is. */
function renderProgress(): Promise<void> {
	return import('./sidebar-progress.ts').then(
		({ showProgress }) => showProgress(results),
		(error: unknown) => console.warn('[podlab] the sidebar progress could not be loaded:', error),
	);
}

/** A run (or an exercise's check) finished on this page: counted in the sidebar at once. */
export function noteResult(block: string, exit: number): void {
	results.set(block, exit);
	void renderProgress();
}
