/**
 * Block ids: how a Run button, the gateway's `done` and the doc-test runner's reports name a block.
 * No Expressive Code imports: the doc-test runner computes the same ids under plain Node.
 */
import { relative } from 'node:path';

/**
 * The source file relative to the chapters' root, without extension, and the block's 1-based
 * position among the file's code blocks: "chapters/namespaces:2".
 *
 * @param sourceFilePath the chapter's path; a file outside `docsDir` is named by its base name
 * @param index 1-based position of the code block in the file
 * @param docsDir the chapters' root (content/docs)
 */
export function blockId(sourceFilePath: string | undefined, index: number, docsDir: string): string {
	if (!sourceFilePath) return `block:${index}`;
	const path = relative(docsDir, sourceFilePath).split('\\').join('/');
	const inside = !path.startsWith('..') && !path.startsWith('/');
	const name = (inside ? path : path.slice(path.lastIndexOf('/') + 1)).replace(/\.[^./]+$/, '');
	return `${name}:${index}`;
}
