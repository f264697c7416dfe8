/** The chapters, by the names the sidebar and block ids use ("lab-check", "chapters/pause"). */
import { fileURLToPath } from 'node:url';
import { sidebar } from '../../content/sidebar.ts';

export const DOCS_DIR = fileURLToPath(new URL('../../content/docs/', import.meta.url));
export const TRANSCRIPTS_DIR = fileURLToPath(new URL('../../content/transcripts/', import.meta.url));

/** Every page with runnable blocks, in the order a reader meets them in the sidebar. */
export async function listChapters(): Promise<string[]> {
	return sidebar.flatMap((entry) => ('items' in entry ? entry.items.map((item) => item.slug) : [entry.slug]));
}

export function chapterFile(name: string): string {
	return `${DOCS_DIR}${name}.mdx`;
}
