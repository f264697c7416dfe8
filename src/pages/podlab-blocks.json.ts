/**
 * `/podlab-blocks.json`, written at build time: every runnable block of every page in the sidebar,
 * with its lab profile (null: both) and whether it runs until the reader stops it, then the page's
 * exercises (`exercise:<id>`, for every profile: one check script serves both). The sidebar's
 * per-chapter progress counts against it (src/terminal/page/saved-results.ts); fetched only by a reader
 * who has run something.
 */
import { resolve } from 'node:path';
import type { APIRoute } from 'astro';
import { sidebar } from '../../content/sidebar.ts';
import { exerciseBlock } from '../terminal/page/exercise-block.ts';
import { exercisesOf } from '../build/exercise-checks.ts';
import { collectBlocks } from '../chapters/collect-blocks.ts';

/** A block as the progress count needs it; absent fields are null/false. */
export interface ManifestBlock {
	id: string;
	profile?: string;
	until?: true;
	/** An exercise's check (`exercise:<id>`): done when it passed, as a block is when it exits 0. */
	exercise?: true;
}

/** Page slug ("chapters/pause") → its blocks in page order. */
export type BlockManifest = Record<string, ManifestBlock[]>;

// Where astro.config.mjs points the Run button plugin, so ids are the same as the buttons'.
const DOCS_DIR = resolve('content/docs');

export const GET: APIRoute = async () => {
	const slugs = sidebar.flatMap((entry) => ('items' in entry ? entry.items.map((item) => item.slug) : [entry.slug]));
	const manifest: BlockManifest = {};
	for (const slug of slugs) {
		const file = resolve(DOCS_DIR, `${slug}.mdx`);
		// A solution's blocks are not the chapter's to count: a reader who solves an exercise alone is done.
		const blocks: ManifestBlock[] = (await collectBlocks(file, DOCS_DIR, null)).filter((block) => block.exercise === null).map(({ id, profile, test }) => ({
			id,
			...(profile ? { profile } : {}),
			...(test.until ? { until: true as const } : {}),
		}));
		// An exercise without a valid id fails the build (src/build/exercise-checks.ts) before this runs.
		for (const { id } of await exercisesOf(file)) if (id) blocks.push({ id: exerciseBlock(id), exercise: true });
		if (blocks.length === 0) continue;
		manifest[slug] = blocks;
	}
	return new Response(JSON.stringify(manifest), { headers: { 'Content-Type': 'application/json' } });
};
