/**
 * The page says what was run where: under every block the kubernetes lab runs, its recording from a
 * node, or "kubernetes lab: checked offline, not yet run on a node" until there is one.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ExpressiveCode } from '@astrojs/starlight/expressive-code';
import { selectAll, type Element } from '@astrojs/starlight/expressive-code/hast';
import { describe, expect, it } from 'vitest';
import { collectBlocks } from '../../src/chapters/collect-blocks.ts';
import { pluginRunButton } from '../../src/expressive-code/run-button.ts';
import { chapterFile, DOCS_DIR, listChapters, TRANSCRIPTS_DIR } from '../doctest/chapters.ts';

const docsDir = resolve(DOCS_DIR);
const STATUS = 'kubernetes lab: checked offline, not yet run on a node';

const text = (node: unknown): string =>
	typeof node === 'object' && node !== null && 'value' in node ? String(node.value) : ((node as Element).children ?? []).map(text).join('');

/** Renders block `index` (1-based) of `file` as the site does, with the transcripts of `transcriptsDir`. */
async function renderBlock(engine: ExpressiveCode, file: string, index: number, code: string) {
	const { renderedGroupAst } = await engine.render({ code, language: 'bash', meta: '', parentDocument: { sourceFilePath: file, positionInDocument: { groupIndex: index - 1 } } });
	return {
		status: selectAll('p.podlab-verification', renderedGroupAst).map(text),
		recordings: selectAll('details.podlab-recorded summary', renderedGroupAst).map(text),
	};
}

const indexOf = (id: string) => Number(id.split(':').at(-1));

describe('the verification status under a block', () => {
	it('is on every block the kubernetes lab runs, and on no podman-only block', async () => {
		const engine = new ExpressiveCode({ plugins: [pluginRunButton({ docsDir, transcriptsDir: TRANSCRIPTS_DIR })] });
		let kubernetesBlocks = 0;
		for (const chapter of await listChapters()) {
			const file = chapterFile(chapter);
			for (const block of (await collectBlocks(file, DOCS_DIR, null)).filter((candidate) => candidate.action === 'run')) {
				const { status } = await renderBlock(engine, file, indexOf(block.id), block.source);
				const kubernetesRuns = block.profile === null || block.profile === 'kubernetes';
				expect(status, block.id).toEqual(kubernetesRuns ? [STATUS] : []);
				if (kubernetesRuns) kubernetesBlocks++;
			}
		}
		expect(kubernetesBlocks).toBeGreaterThan(60);
	});

	it('gives way to a recording from a node, and sits next to the podman recording of a common block', async () => {
		const transcriptsDir = mkdtempSync(join(tmpdir(), 'podlab-transcripts-'));
		mkdirSync(join(transcriptsDir, 'chapters'));
		const file = chapterFile('chapters/pause');
		const blocks = await collectBlocks(file, DOCS_DIR, null);
		const kubernetesBlock = blocks.find((block) => block.profile === 'kubernetes')!;
		const commonBlock = blocks.find((block) => block.profile === null)!;
		const transcript = (profile: string, ids: string[]) =>
			JSON.stringify({ chapter: 'chapters/pause', profile, recordedAt: '2026-12-01T12:00:00.000Z', lab: {}, blocks: ids.map((id) => ({ id, command: '…', output: 'out\n', exit: 0 })) });
		writeFileSync(join(transcriptsDir, 'chapters/pause.kubernetes.json'), transcript('kubernetes', [kubernetesBlock.id]));
		writeFileSync(join(transcriptsDir, 'chapters/pause.podman.json'), transcript('podman', [commonBlock.id]));
		const engine = new ExpressiveCode({ plugins: [pluginRunButton({ docsDir, transcriptsDir })] });

		expect(await renderBlock(engine, file, indexOf(kubernetesBlock.id), kubernetesBlock.source)).toEqual({
			status: [],
			recordings: ['Recorded output — kubernetes lab, 2026-12-01 (exit 0)'],
		});
		expect(await renderBlock(engine, file, indexOf(commonBlock.id), commonBlock.source)).toEqual({
			status: [STATUS],
			recordings: ['Recorded output — podman lab, 2026-12-01 (exit 0)'],
		});
	});
});
