/**
 * Which labs run a block: the lab of its tab (`<Tabs syncKey="lab">` → `<TabItem label="…">`), or
 * every lab for a block outside the lab tabs. Read with the doc-test runner's own collector, so the
 * page says about a block exactly what the runner does with it. Build-time only (Node).
 */
import { collectBlocks } from '../chapters/collect-blocks.ts';
import { LAB_PROFILES } from '../protocol-values.ts';

const labsByFile = new Map<string, Promise<Map<string, readonly string[]>>>();

async function readLabs(file: string, docsDir: string): Promise<Map<string, readonly string[]>> {
	const labs = new Map<string, readonly string[]>();
	for (const block of await collectBlocks(file, docsDir, null)) labs.set(block.id, block.profile === null ? LAB_PROFILES : [block.profile]);
	return labs;
}

/**
 * The labs that run block `id` of chapter `file`; empty when the file is not a chapter that can be
 * read (an inline code block, say), so that the page claims nothing about it.
 */
export async function labsOfBlock(file: string | undefined, id: string, docsDir: string): Promise<readonly string[]> {
	if (!file) return [];
	let labs = labsByFile.get(file);
	if (!labs) {
		labs = readLabs(file, docsDir).catch(() => new Map());
		labsByFile.set(file, labs);
	}
	return (await labs).get(id) ?? [];
}
