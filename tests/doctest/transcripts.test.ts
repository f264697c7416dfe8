/**
 * A recording is shown under the block with its id, and ids are positions in the page: a block
 * added above shifts every id after it. So every recorded block must still be, under its id, the
 * command that was recorded; otherwise the page would show one command's output under another.
 */
import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { collectBlocks } from '../../src/chapters/collect-blocks.ts';
import { transcriptSchema } from '../../src/transcripts.ts';
import { chapterFile, DOCS_DIR, listChapters, TRANSCRIPTS_DIR } from './chapters.ts';

const files = (await readdir(TRANSCRIPTS_DIR, { recursive: true })).filter((file) => file.endsWith('.json')).sort();
const chapters = await listChapters();

describe('recorded transcripts', () => {
	it.each(files)('%s matches its chapter as it is now (re-record the chapter if not)', async (file) => {
		const transcript = transcriptSchema.parse(JSON.parse(await readFile(`${TRANSCRIPTS_DIR}${file}`, 'utf8')));
		expect(chapters).toContain(transcript.chapter);
		expect(file).toBe(`${transcript.chapter}.${transcript.profile}.json`);
		// Exercises' solutions are not recorded (run-chapters.ts).
		const blocks = (await collectBlocks(chapterFile(transcript.chapter), DOCS_DIR, transcript.profile)).filter((block) => block.exercise === null);
		const sources = new Map(blocks.map((block) => [block.id, block.source]));
		const stale = transcript.blocks.filter((block) => sources.get(block.id) !== block.command).map((block) => block.id);
		expect(stale, `recorded blocks whose command changed or moved in ${transcript.chapter}`).toEqual([]);
		expect(transcript.blocks.map((block) => block.id)).toEqual(blocks.map((block) => block.id));
	});
});
