/**
 * The reader's ✓/✗ across reloads, chapters and visits: the gateway keeps each block's last result
 * (`GET /api/results`); at page load they go back onto this page's blocks, and the sidebar shows
 * each chapter's progress ("4/11"), counted against the site's block list (`/podlab-blocks.json`)
 * for the lab the reader reads for. Runs that finish while the page is open count at once.
 *
 * Part of every page's small bootstrap: no zod, no protocol module; the answers are checked by hand
 * (their schema is `blockResultsResponse` in src/protocol.ts).
 */
import type { BlockManifest } from '../pages/podlab-blocks.json.ts';
import { succeeded, showBlockResult } from './block-status.ts';
import { readingProfile } from './lab-tabs.ts';
import { STATUS_ATTRIBUTE } from './run-request.ts';
import { apiUrl, siteUrl } from './urls.ts';

/** Block id → last exit status, as the gateway and this page know them. */
const results = new Map<string, number>();
let manifest: Promise<BlockManifest | null> | null = null;

async function getJson(url: string): Promise<unknown> {
	try {
		const response = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' }, signal: AbortSignal.timeout(5_000) });
		if (!response.ok || !(response.headers.get('content-type') ?? '').includes('application/json')) return null;
		return await response.json();
	} catch {
		return null;
	}
}

/** `{ blocks: { id: { exit } } }` → id → exit; anything else → nothing. */
function exitsOf(answer: unknown): Map<string, number> {
	const exits = new Map<string, number>();
	const blocks = typeof answer === 'object' && answer !== null ? (answer as { blocks?: unknown }).blocks : null;
	if (typeof blocks !== 'object' || blocks === null) return exits;
	for (const [block, result] of Object.entries(blocks)) {
		const exit = typeof result === 'object' && result !== null ? (result as { exit?: unknown }).exit : null;
		if (Number.isInteger(exit)) exits.set(block, exit as number);
	}
	return exits;
}

function blockManifest(): Promise<BlockManifest | null> {
	manifest ??= getJson(siteUrl('podlab-blocks.json')).then((answer) => (typeof answer === 'object' && answer !== null ? (answer as BlockManifest) : null));
	return manifest;
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
	const saved = exitsOf(await getJson(apiUrl('results')));
	for (const [block, exit] of saved) {
		// A run started on this page since (or its result) is newer than the saved one.
		if (results.has(block)) continue;
		results.set(block, exit);
		if (!statusOf(block)?.dataset.state) showBlockResult(block, exit);
	}
	if (results.size > 0) await renderProgress();
}

/** A run finished on this page: counted in the sidebar at once. */
export function noteResult(block: string, exit: number): void {
	results.set(block, exit);
	void renderProgress();
}

/** Done, for progress: its last run succeeded (for an `until` block, also when stopped with Ctrl-C). */
function done(block: { id: string; until?: true }): boolean {
	const exit = results.get(block.id);
	return exit !== undefined && succeeded(exit, block.until === true);
}

async function renderProgress(): Promise<void> {
	const chapters = await blockManifest();
	if (!chapters) return;
	const profile = readingProfile() ?? 'kubernetes';
	for (const [slug, blocks] of Object.entries(chapters)) {
		const link = document.querySelector<HTMLAnchorElement>(`nav[aria-label] a[href="${CSS.escape(siteUrl(`${slug}/`))}"]`);
		if (!link) continue;
		const counted = blocks.filter((block) => !block.profile || block.profile === profile);
		const finished = counted.filter(done).length;
		let badge = link.querySelector<HTMLElement>('.podlab-progress');
		if (finished === 0) {
			badge?.remove();
			continue;
		}
		if (!badge) {
			badge = document.createElement('span');
			badge.className = 'podlab-progress';
			link.append(badge);
		}
		const complete = finished === counted.length;
		badge.dataset.complete = String(complete);
		badge.innerHTML = '<span aria-hidden="true"></span><span class="podlab-sr-only"></span>';
		badge.firstElementChild!.textContent = `${complete ? '✓ ' : ''}${finished}/${counted.length}`;
		badge.lastElementChild!.textContent = `, ${finished} of ${counted.length} blocks run`;
	}
}
