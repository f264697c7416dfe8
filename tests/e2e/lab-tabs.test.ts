/**
 * Chapters show the tabs of the lab the gateway has: on a podman lab, the podman commands, from the
 * first page on — unless the reader picked a tab themselves.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSiteIfStale } from '../../scripts/site-build.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { assertLabUsable, podmanLabProblem, skipReason } from '../lab/lab-required.ts';
import { launchChromium } from './browser.ts';
import { runButton, waitForStatus } from './lab-page.ts';

const problem = await podmanLabProblem();
const skip = skipReason(problem);
if (skip) console.info(`skipping the lab-tabs test: ${skip}`);

let browser: Browser;
let gateway: RunningGateway;

beforeAll(async () => {
	if (skip) return;
	assertLabUsable(problem);
	await buildSiteIfStale();
	browser = await launchChromium();
	gateway = await startGateway({ PODLAB_WORKDIR: mkdtempSync(join(tmpdir(), 'podlab-e2e-tabs-')) });
});

afterAll(async () => {
	await browser?.close();
	await gateway?.stop();
});

describe.skipIf(skip !== null)('lab tabs', () => {
	it('show the podman tabs before any Run, and keep a reader’s own choice', async () => {
		const context = await browser.newContext();
		const page = await context.newPage();
		const selected = () => page.locator('starlight-tabs[data-sync-key="lab"] [role="tab"][aria-selected="true"]').first().textContent();
		// A new reader, who has run nothing: the page asks the gateway which lab it is.
		await page.goto(`${gateway.url}chapters/pause/`);
		await expect.poll(async () => (await selected())?.trim(), { timeout: 10_000 }).toBe('podman');
		await page.goto(`${gateway.url}lab-check/`);
		await runButton(page, 'lab-check:1').click();
		await waitForStatus(page, 'lab-check:1', /✓ exit 0/);
		await page.goto(`${gateway.url}chapters/pause/`);
		// The panel reopens by itself on this page; the tabs are still the lab's.
		await expect.poll(async () => (await selected())?.trim(), { timeout: 10_000 }).toBe('podman');

		// The reader's own choice wins over the lab's.
		await page.getByRole('tab', { name: 'kubernetes' }).first().click();
		await page.reload();
		await page.waitForSelector('podlab-terminal-panel .xterm', { timeout: 10_000 });
		await page.waitForTimeout(500);
		expect((await selected())?.trim()).toBe('kubernetes');
		await context.close();
	});
});
