/**
 * The doc-tests in labs of one's own: every podman block of every chapter, in a fresh Incus lab per
 * chapter (a new reader each), through the real gateway with the incus backend, as
 * `npm run docs:test -- --backend incus` does. The labs the chapters' readers were given are removed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertLabUsable, skipReason } from '../lab/lab-required.ts';
import { incusLabProblem } from '../lab/incus/incus-required.ts';
import { listChapters } from '../doctest/chapters.ts';
import { describeLab, labStateDir, removeLabsOf } from '../doctest/lab-hooks.ts';
import { runChapterForTest } from '../doctest/run-chapters.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';

const problem = await incusLabProblem();
const skip = skipReason(problem);
if (skip) console.info(`skipping the doc-tests in labs of one's own: ${skip}`);
const chapters = await listChapters();

let gateway: RunningGateway;
const stateDir = labStateDir();
beforeAll(async () => {
	if (skip) return;
	assertLabUsable(problem);
	gateway = await startGateway({ PODLAB_LAB_BACKEND: 'incus', PODLAB_LAB_WARM_LABS: '1', PODLAB_STATE_DIR: stateDir });
});
afterAll(async () => {
	await gateway?.stop();
	if (!skip) await removeLabsOf(stateDir);
}, 120_000);

describe.skipIf(skip !== null)('chapters in labs of one’s own', () => {
	it.each(chapters)('%s: every block passes in a fresh lab', async (chapter) => {
		const { failures, skipped } = await runChapterForTest(gateway.url, chapter, { describeLab });
		expect(failures, failures.join('\n\n')).toEqual([]);
		expect(skipped).toBe(0);
	}, 600_000);
});
