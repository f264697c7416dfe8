/**
 * Content collections. The chapters live in the top-level `content/docs` (next to the lab files they
 * show), not in Starlight's default `src/content/docs`, so Starlight's `docsLoader()` cannot be used:
 * Astro's `glob()` loader points at them and Starlight's schema validates their frontmatter.
 */
import { defineCollection } from 'astro:content';
import { glob } from 'astro/loaders';
import { docsSchema } from '@astrojs/starlight/schema';

export const collections = {
	docs: defineCollection({
		loader: glob({
			base: './content/docs',
			// Files starting with "_" are partials or drafts, as in Starlight's own loader.
			pattern: ['**/*.{md,mdx}', '!**/_*'],
			// Render .md pages while building them, as .mdx always is: rendered early (at content sync),
			// an error such as a bad code-block meta is only logged, and the page comes out empty.
			deferRender: true,
		}),
		schema: docsSchema(),
	}),
};
