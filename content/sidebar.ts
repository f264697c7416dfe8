/**
 * The site's navigation, in reading order. Listed explicitly (chapters live outside src/content,
 * where Starlight's autogenerate does not look). Used by astro.config.mjs for the sidebar and by
 * the doc-test runner for the order in which it runs the chapters' blocks.
 *
 * Plain data, no Astro imports: the doc-test runner reads it under plain Node.
 */
import type { StarlightUserConfig } from '@astrojs/starlight/types';

/** A page of content/docs, by its path without extension ("chapters/namespaces"). */
interface PageLink {
	slug: string;
	label?: string;
}

type SidebarEntry = (PageLink & { label: string }) | { label: string; items: PageLink[] };

export const sidebar = [
	{ label: 'Check your lab', slug: 'lab-check' },
	{
		label: 'Chapters',
		items: [
			{ slug: 'chapters/introduction' },
			{ slug: 'chapters/namespaces' },
			{ slug: 'chapters/pause' },
			{ slug: 'chapters/sidecar' },
			{ slug: 'chapters/resources' },
			{ slug: 'chapters/oom' },
		],
	},
	{ label: 'Reference', items: [{ slug: 'reference/terminal' }, { slug: 'reference/code-blocks' }, { slug: 'reference/performance' }] },
] as const satisfies readonly SidebarEntry[] & StarlightUserConfig['sidebar'];
