/**
 * The doc-tests: every runnable block of every chapter, podman profile, in page order, through the
 * real gateway, as `npm run docs:test` does. A chapter whose commands stop working fails here.
 * Needs the podman lab: skipped (with the reason) without it, a failure under CI=true/REQUIRE_LAB=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertLabUsable, podmanLabProblem, skipReason } from '../lab/lab-required.ts';
import { listChapters } from '../doctest/chapters.ts';
import { describeLab, resetLab } from '../doctest/lab-hooks.ts';
import { runChapterForTest } from '../doctest/run-chapters.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';

const problem = await podmanLabProblem();
const skip = skipReason(problem);
if (skip) console.info(`skipping the doc-tests: ${skip}`);
const chapters = await listChapters();

let gateway: RunningGateway;
beforeAll(async () => {
	if (skip) return;
	assertLabUsable(problem);
	gateway = await startGateway();
});
afterAll(async () => {
	await gateway?.stop();
	if (!skip) await resetLab();
});

describe.skipIf(skip !== null)('chapters on the podman lab', () => {
	it.each(chapters)('%s: every block passes', async (chapter) => {
		const { failures, skipped } = await runChapterForTest(gateway.url, chapter, { beforeChapter: resetLab, describeLab });
		expect(failures, failures.join('\n\n')).toEqual([]);
		expect(skipped).toBe(0);
	}, 600_000);
});
