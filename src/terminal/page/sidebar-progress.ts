/**
 * The chapters' progress in the sidebar ("4/11"): the reader's results counted against the site's
 * block list (`/podlab-blocks.json`), for the lab the reader reads for. Loaded by saved-results.ts
 * once there is a result to count.
 */
import type { BlockManifest, ManifestBlock } from '../../pages/podlab-blocks.json.ts';
import { succeeded } from './block-status.ts';
import { readingProfile } from './lab-tabs.ts';
import { getJson, siteUrl } from './urls.ts';

let manifest: Promise<BlockManifest | null> | null = null;

function blockManifest(): Promise<BlockManifest | null> {
	manifest ??= getJson(siteUrl('podlab-blocks.json'), 5_000).then((body) => (typeof body === 'object' && body !== null ? (body as BlockManifest) : null));
	return manifest;
}

/**
 * Done, for progress: its last run succeeded (for an `until` block, also when stopped with Ctrl-C);
 * an exercise's when its last check passed (the gateway records a check as exit 0 or 1).
 */
function done(results: ReadonlyMap<string, number>, block: ManifestBlock): boolean {
	const exit = results.get(block.id);
	return exit !== undefined && succeeded(exit, block.until === true);
}

/**
 * A chapter's progress for the reader's lab: its blocks for that profile (those of both profiles and
 * its exercises included), and how many of them are done.
 */
export function chapterProgress(blocks: readonly ManifestBlock[], results: ReadonlyMap<string, number>, profile: string): { finished: number; total: number } {
	const counted = blocks.filter((block) => !block.profile || block.profile === profile);
	return { finished: counted.filter((block) => done(results, block)).length, total: counted.length };
}

/** Each chapter's progress in the sidebar, from the results this page knows (block id → exit status). */
export async function showProgress(results: ReadonlyMap<string, number>): Promise<void> {
	const chapters = await blockManifest();
	if (!chapters) return;
	const profile = readingProfile() ?? 'kubernetes';
	for (const [slug, blocks] of Object.entries(chapters)) {
		const link = document.querySelector<HTMLAnchorElement>(`nav[aria-label] a[href="${CSS.escape(siteUrl(`${slug}/`))}"]`);
		if (!link) continue;
		const { finished, total } = chapterProgress(blocks, results, profile);
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
		const complete = finished === total;
		badge.dataset.complete = String(complete);
		badge.innerHTML = '<span aria-hidden="true"></span><span class="podlab-sr-only"></span>';
		badge.firstElementChild!.textContent = `${complete ? '✓ ' : ''}${finished}/${total}`;
		badge.lastElementChild!.textContent = `, ${finished} of ${total} blocks run`;
	}
}
