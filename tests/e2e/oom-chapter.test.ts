/**
 * The OOM chapter as a reader does it, on a laptop and on a phone: podman tab chosen, every block
 * clicked in page order in a real browser, each one ✓ (the kernel-log block once its output shows it
 * is running), the kernel's OOM line in the `logs` terminal, `dmesg -W` stopped with Ctrl-C as the
 * chapter says (still ✓), and after the clean-up nothing left in the lab's work directory — not
 * even the empty `oom` file conmon writes where podman ran. Needs the podman lab (a failure under CI).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSiteIfStale } from '../../scripts/site-build.ts';
import { chapterFile, DOCS_DIR } from '../doctest/chapters.ts';
import { collectBlocks } from '../../src/chapters/collect-blocks.ts';
import { resetLab } from '../doctest/lab-hooks.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { assertLabUsable, podmanLabProblem, skipReason } from '../lab/lab-required.ts';
import { LAB_WORK_DIR } from '../../lab/lib/paths.ts';
import { launchChromium } from './browser.ts';
import { READER_VIEWPORTS, readableTerminals, runButton, waitForStatus, waitForTerminalUnwrapped } from './lab-page.ts';

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

describe.skipIf(skip !== null).each(READER_VIEWPORTS)('the OOM chapter in a browser on a $name', ({ options }) => {
	it('runs every podman block with ✓, the exercise’s solution too, and shows the OOM kill in the logs terminal', async () => {
		await resetLab();
		const blocks = await collectBlocks(chapterFile('chapters/oom'), DOCS_DIR, 'podman');
		expect(blocks.length).toBeGreaterThan(3);
		const context = await browser.newContext(options);
		await readableTerminals(context);
		const page = await context.newPage();
		await page.goto(`${gateway.url}chapters/oom/`);
		await page.getByRole('tab', { name: 'podman' }).first().click();
		for (const block of blocks) {
			// The exercise's solution, as a reader opens it, then its blocks like the chapter's.
			if (block.exercise) {
				const solution = page.locator(`podlab-exercise[data-exercise="${block.exercise}"] details.podlab-solution`);
				if (!(await solution.evaluate((details) => (details as HTMLDetailsElement).open))) await solution.locator('summary').click();
			}
			const button = runButton(page, block.id);
			await button.scrollIntoViewIfNeeded();
			await button.click();
			const status = await waitForStatus(page, block.id, /✓|✗|offline|lost/, (block.test.timeout ?? 60) * 1000);
			expect(status, `${block.id}: ${block.source.split('\n')[0]}`).toMatch(/^✓/);
			// Read at once: on a phone's small terminal, the clean-up's kernel messages soon push it out of view.
			if (block.code.includes('memstress 256')) await waitForTerminalUnwrapped(page, /Memory cgroup out of memory: Killed process \d+ \(memstress\)/, 'logs');
		}
		const kernelLog = blocks.find((block) => block.test.until)!;
		// "Stop `dmesg -W` with Ctrl-C in the `logs` tab when you are done."
		await page.locator('#podlab-tab-logs').click();
		await page.locator('#podlab-tabpanel-logs .xterm-helper-textarea').focus();
		await page.keyboard.press('Control+C');
		expect(await waitForStatus(page, kernelLog.id, /stopped|✗/)).toBe('✓ stopped (Ctrl-C)');
		expect(existsSync(join(LAB_WORK_DIR, 'oom')), `a stray ${join(LAB_WORK_DIR, 'oom')} after the clean-up`).toBe(false);
		await context.close();
	}, 300_000);
});

