/**
 * The doc-tests in labs of one's own: every podman block of every chapter, in a fresh Incus lab per
 * chapter (a new reader each), through the real gateway with the incus backend, as
 * `npm run docs:test -- --backend incus` does. The labs the chapters' readers were given are removed.
 */
import { describe, expect, it } from 'vitest';
import { listChapters } from '../doctest/chapters.ts';
import { describeLab } from '../doctest/lab-hooks.ts';
import { runChapterForTest } from '../doctest/run-chapters.ts';
import { incusDocGateway } from './incus-doc-gateway.ts';

const { skip, gateway } = await incusDocGateway("the doc-tests in labs of one's own");
const chapters = await listChapters();

describe.skipIf(skip !== null)('chapters in labs of one’s own', () => {
	it.each(chapters)('%s: every block passes in a fresh lab', async (chapter) => {
		const { failures, skipped } = await runChapterForTest(gateway().url, chapter, { describeLab });
		expect(failures, failures.join('\n\n')).toEqual([]);
		expect(skipped).toBe(0);
	}, 600_000);
});
