/**
 * The chapters' progress in the sidebar ("4/11"): the reader's results counted against the site's
 * block list (`/podlab-blocks.json`), for the lab the reader reads for. Loaded by saved-results.ts
 * once there is a result to count.
 */
import type { BlockManifest } from '../../pages/podlab-blocks.json.ts';
import { succeeded } from './block-status.ts';
import { readingProfile } from './lab-tabs.ts';
import { getJson, siteUrl } from './urls.ts';

let manifest: Promise<BlockManifest | null> | null = null;

function blockManifest(): Promise<BlockManifest | null> {
	manifest ??= getJson(siteUrl('podlab-blocks.json'), 5_000).then((body) => (typeof body === 'object' && body !== null ? (body as BlockManifest) : null));
	return manifest;
}

/** Done, for progress: its last run succeeded (for an `until` block, also when stopped with Ctrl-C). */
function done(results: ReadonlyMap<string, number>, block: { id: string; until?: true }): boolean {
	const exit = results.get(block.id);
	return exit !== undefined && succeeded(exit, block.until === true);
}

/** Each chapter's progress in the sidebar, from the results this page knows (block id → exit status). */
export async function showProgress(results: ReadonlyMap<string, number>): Promise<void> {
	const chapters = await blockManifest();
	if (!chapters) return;
	const profile = readingProfile() ?? 'kubernetes';
	for (const [slug, blocks] of Object.entries(chapters)) {
		const link = document.querySelector<HTMLAnchorElement>(`nav[aria-label] a[href="${CSS.escape(siteUrl(`${slug}/`))}"]`);
		if (!link) continue;
		const counted = blocks.filter((block) => !block.profile || block.profile === profile);
		const finished = counted.filter((block) => done(results, block)).length;
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
