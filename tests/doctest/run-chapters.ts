/**
 * Runs chapters block by block through a gateway, printing one progress line per block, the
 * details of a failure, and (when recording) writing each passing chapter's transcript.
 */
import { collectBlocks } from '../../src/chapters/collect-blocks.ts';
import { chapterFile, DOCS_DIR, TRANSCRIPTS_DIR } from './chapters.ts';
import { DocTestSession, type BlockResult } from './session.ts';
import { transcriptPath, writeTranscript } from '../../src/transcripts.ts';

export interface ChapterReport {
	chapter: string;
	results: BlockResult[];
	/** Blocks not run because an earlier one failed (later steps build on earlier ones). */
	skipped: number;
}

export interface RunOptions {
	gatewayUrl: string;
	chapters: Array<{ name: string; file: string }>;
	profile: string;
	timeoutSeconds: number;
	record: boolean;
	log: (line: string) => void;
	/** Called before each chapter, e.g. to reset the lab so every chapter starts clean. */
	beforeChapter?: (chapter: string) => Promise<void>;
	/** What the lab is, stored in transcripts. */
	describeLab?: () => Promise<Record<string, unknown>>;
}

export async function runChapters(options: RunOptions): Promise<ChapterReport[]> {
	const reports: ChapterReport[] = [];
	const began = performance.now();
	const elapsed = () => `${((performance.now() - began) / 1000).toFixed(1)} s`;
	for (const [chapterIndex, chapter] of options.chapters.entries()) {
		const blocks = await collectBlocks(chapter.file, DOCS_DIR, options.profile);
		options.log(`[${chapterIndex + 1}/${options.chapters.length}] ${chapter.name}: ${blocks.length} blocks (${options.profile}) — ${elapsed()}`);
		await options.beforeChapter?.(chapter.name);
		const session = await DocTestSession.open(options.gatewayUrl);
		const results: BlockResult[] = [];
		try {
			for (const [blockIndex, block] of blocks.entries()) {
				const result = await session.run(block, options.timeoutSeconds);
				results.push(result);
				const status = result.problem ? '✗' : '✓';
				const exit = result.exit === null ? (block.test.until ? 'left running' : 'no exit') : `exit ${result.exit}`;
				options.log(`  [${blockIndex + 1}/${blocks.length}] ${status} ${block.id} ${exit} (${(result.durationMs / 1000).toFixed(1)} s) — ${elapsed()}`);
				if (result.problem) {
					options.log(describeFailure(chapter.name, result));
					break;
				}
			}
		} finally {
			session.close();
		}
		const report = { chapter: chapter.name, results, skipped: blocks.length - results.length };
		reports.push(report);
		if (options.record && results.every((result) => !result.problem) && report.skipped === 0) {
			const path = transcriptPath(TRANSCRIPTS_DIR, chapter.name, options.profile);
			await writeTranscript(path, {
				chapter: chapter.name,
				profile: options.profile,
				recordedAt: new Date().toISOString(),
				lab: (await options.describeLab?.()) ?? {},
				// An exercise's solution is the reader's to run: its output is not shown before they do.
				blocks: results.filter((result) => result.block.exercise === null).map((result) => ({ id: result.block.id, command: result.block.source, output: result.output, exit: result.exit })),
			});
			options.log(`  recorded ${path}`);
		}
	}
	return reports;
}

/** Everything needed to see why a block failed without rerunning it. */
export function describeFailure(chapter: string, result: BlockResult): string {
	const { block } = result;
	const expected = [`exit ${block.test.exit}`, block.test.expect && `expect="${block.test.expect}"`, block.test.until && `until="${block.test.until}"`]
		.filter(Boolean)
		.join(', ');
	const lastLines = result.output.trimEnd().split('\n').slice(-15);
	return [
		`✗ ${chapter}, block ${block.id} (${block.page}:${block.line}), terminal "${block.term}": ${result.problem}`,
		'  command:',
		...block.source.trimEnd().split('\n').map((line) => `    $ ${line}`),
		`  expected: ${expected}`,
		'  last output:',
		...(lastLines.length > 0 && lastLines[0] !== '' ? lastLines.map((line) => `    | ${line}`) : ['    (none)']),
	].join('\n');
}

/**
 * Runs one chapter's podman blocks through the gateway at `gatewayUrl`, as the doc-tests in `npm
 * test` do (no transcript, progress on the console), and says what failed and how many blocks were
 * not reached.
 */
export async function runChapterForTest(gatewayUrl: string, chapter: string, hooks: Pick<RunOptions, 'beforeChapter' | 'describeLab'> = {}): Promise<{ failures: string[]; skipped: number }> {
	const [report] = await runChapters({
		gatewayUrl,
		chapters: [{ name: chapter, file: chapterFile(chapter) }],
		profile: 'podman',
		timeoutSeconds: 60,
		record: false,
		log: (line) => console.log(line),
		...hooks,
	});
	return { failures: report!.results.filter((result) => result.problem).map((result) => describeFailure(chapter, result)), skipped: report!.skipped };
}
