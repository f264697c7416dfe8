/**
 * The OOM chapter as a reader does it: podman tab chosen, every block clicked in page order in a
 * real browser, each one ✓ (the kernel-log block once its output shows it is running), and the
 * kernel's OOM line in the `logs` terminal. Needs the podman lab (a failure under CI).
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSiteIfStale } from '../../scripts/site-build.ts';
import { chapterFile, DOCS_DIR } from '../doctest/chapters.ts';
import { collectBlocks } from '../../src/chapters/collect-blocks.ts';
import { resetLab } from '../doctest/lab-hooks.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { assertLabUsable, podmanLabProblem, skipReason } from '../lab/lab-required.ts';
import { launchChromium } from './browser.ts';
import { readableTerminals, runButton, waitForStatus, waitForTerminal } from './lab-page.ts';

const problem = await podmanLabProblem();
const skip = skipReason(problem);
if (skip) console.info(`skipping the OOM chapter in the browser: ${skip}`);

let browser: Browser;
let gateway: RunningGateway;

beforeAll(async () => {
	if (skip) return;
	assertLabUsable(problem);
	await buildSiteIfStale();
	await resetLab();
	browser = await launchChromium();
	gateway = await startGateway();
});

afterAll(async () => {
	await browser?.close();
	await gateway?.stop();
	if (!skip) await resetLab();
});

describe.skipIf(skip !== null)('the OOM chapter in a browser', () => {
	it('runs every podman block with ✓ and shows the OOM kill in the logs terminal', async () => {
		const blocks = await collectBlocks(chapterFile('chapters/oom'), DOCS_DIR, 'podman');
		expect(blocks.length).toBeGreaterThan(3);
		const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
		await readableTerminals(context);
		const page = await context.newPage();
		await page.goto(`${gateway.url}chapters/oom/`);
		await page.getByRole('tab', { name: 'podman' }).first().click();
		for (const block of blocks) {
			const button = runButton(page, block.id);
			await button.scrollIntoViewIfNeeded();
			await button.click();
			const status = await waitForStatus(page, block.id, /✓|✗|offline|lost/, (block.test.timeout ?? 60) * 1000);
			expect(status, `${block.id}: ${block.source.split('\n')[0]}`).toMatch(/^✓/);
		}
		await waitForTerminal(page, /Memory cgroup out of memory: Killed process \d+ \(memstress\)/, 'logs');
		await context.close();
	}, 300_000);
});

