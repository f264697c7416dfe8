/**
 * The doc-tests in labs of one's own: every podman block of every chapter, in a fresh LXC lab per
 * chapter (a new reader each), through the real gateway with the lxc backend, as
 * `npm run docs:test -- --backend lxc` does. The labs the chapters' readers were given are removed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertLabUsable, skipReason } from '../lab/lab-required.ts';
import { lxcLabProblem } from '../lab/lxc/lxc-required.ts';
import { chapterFile, listChapters } from '../doctest/chapters.ts';
import { describeLab, labNames, removeLabsExcept } from '../doctest/lab-hooks.ts';
import { describeFailure, runChapters } from '../doctest/run-chapters.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';

const problem = await lxcLabProblem();
const skip = skipReason(problem);
if (skip) console.info(`skipping the doc-tests in LXC labs: ${skip}`);
const chapters = await listChapters();

let gateway: RunningGateway;
let before: string[] = [];
beforeAll(async () => {
	if (skip) return;
	assertLabUsable(problem);
	before = await labNames();
	gateway = await startGateway({ PODLAB_LAB_BACKEND: 'lxc', PODLAB_LXC_WARM_LABS: '1' });
});
afterAll(async () => {
	await gateway?.stop();
	if (!skip) await removeLabsExcept(before);
}, 120_000);

describe.skipIf(skip !== null)('chapters in LXC labs', () => {
	it.each(chapters)('%s: every block passes in a fresh lab', async (chapter) => {
		const [report] = await runChapters({
			gatewayUrl: gateway.url,
			chapters: [{ name: chapter, file: chapterFile(chapter) }],
			profile: 'podman',
			timeoutSeconds: 60,
			record: false,
			log: (line) => console.log(line),
			describeLab,
		});
		const failures = report!.results.filter((result) => result.problem).map((result) => describeFailure(chapter, result));
		expect(failures, failures.join('\n\n')).toEqual([]);
		expect(report!.skipped).toBe(0);
	}, 600_000);
});
