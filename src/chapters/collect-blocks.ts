/**
 * Reads chapters (MDX, parsed with remark, never with regular expressions) and lists the blocks a
 * reader could run, in page order, each with the id, text and expectations its Run button has.
 *
 * Profiles: a block inside `<Tabs syncKey="lab">` → `<TabItem label="podman">` belongs to that
 * profile; a block outside lab tabs belongs to every profile.
 */
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { MetaOptions } from '@expressive-code/core';
import type { Code, Root } from 'mdast';
import type { MdxJsxFlowElement } from 'mdast-util-mdx-jsx';
import remarkMdx from 'remark-mdx';
import remarkParse from 'remark-parse';
import { unified } from 'unified';
import { visitParents } from 'unist-util-visit-parents';
import { classifyBlock, type MetaOptionLike, type RunnableBlock } from '../expressive-code/fence-meta.ts';
import { blockId } from '../expressive-code/block-id.ts';
import { writeFileCommand } from '../expressive-code/write-to-lab.ts';

export interface DocBlock extends RunnableBlock {
	/** Same id as the page's Run button and the gateway's `done`: "chapters/pause:3". */
	id: string;
	/** Exactly what Run types. */
	code: string;
	/** The source as shown on the page (for reports and transcripts). */
	source: string;
	/** null: every profile. */
	profile: string | null;
	/** The id of the `<Exercise>` whose solution it is in; null outside exercises. */
	exercise: string | null;
	/** The chapter's MDX file and the block's line in it (for reports). */
	page: string;
	line: number;
}

const parser = unified().use(remarkParse).use(remarkMdx);

/** The runnable blocks of one chapter, for `profile` (or all of them when `profile` is null). */
export async function collectBlocks(file: string, docsDir: string, profile: string | null): Promise<DocBlock[]> {
	const tree = parser.parse(await readFile(file, 'utf8')) as Root;
	const blocks: DocBlock[] = [];
	let index = 0;
	visitParents(tree, 'code', (node: Code, ancestors) => {
		index++;
		const meta = new MetaOptions(node.meta ?? '');
		const runnable = classifyBlock({
			language: node.lang ?? '',
			title: meta.getString('title'),
			options: meta.list() as MetaOptionLike[],
			location: { file: relative(process.cwd(), file), index },
		});
		if (!runnable) return;
		const blockProfile = labTab(ancestors);
		if (profile !== null && blockProfile !== null && blockProfile !== profile) return;
		blocks.push({
			...runnable,
			id: blockId(file, index, docsDir),
			code: runnable.action === 'write' ? writeFileCommand(runnable.file!, node.value) : node.value.trimEnd(),
			source: node.value,
			profile: blockProfile,
			exercise: exerciseOf(ancestors),
			page: file,
			line: node.position?.start.line ?? 0,
		});
	});
	return blocks;
}

/** The lab profile of the nearest `<TabItem>` under `<Tabs syncKey="lab">`, lowercased; null outside. */
function labTab(ancestors: ReadonlyArray<{ type: string }>): string | null {
	for (let i = ancestors.length - 1; i > 0; i--) {
		const item = ancestors[i] as MdxJsxFlowElement;
		const tabs = ancestors[i - 1] as MdxJsxFlowElement;
		if (item.type !== 'mdxJsxFlowElement' || item.name !== 'TabItem') continue;
		if (tabs.type !== 'mdxJsxFlowElement' || tabs.name !== 'Tabs' || attribute(tabs, 'syncKey') !== 'lab') continue;
		const label = attribute(item, 'label');
		if (label) return label.toLowerCase();
	}
	return null;
}

/** The id of the nearest enclosing `<Exercise>`; null outside. */
function exerciseOf(ancestors: ReadonlyArray<{ type: string }>): string | null {
	for (const ancestor of [...ancestors].reverse()) {
		const element = ancestor as MdxJsxFlowElement;
		if (element.type === 'mdxJsxFlowElement' && element.name === 'Exercise') return attribute(element, 'id') ?? null;
	}
	return null;
}

function attribute(element: MdxJsxFlowElement, name: string): string | undefined {
	for (const attr of element.attributes) {
		if (attr.type === 'mdxJsxAttribute' && attr.name === name && typeof attr.value === 'string') return attr.value;
	}
	return undefined;
}
