/**
 * Class mode in a real browser: Run on a chapter sends a student who has not joined to /join/, the
 * form gives them their cookie and brings them back, and Run then works in their own shell.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSiteIfStale } from '../../scripts/site-build.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { launchChromium } from './browser.ts';
import { readableTerminals, runButton, waitForStatus, waitForTerminal } from './lab-page.ts';

let browser: Browser;
let gateway: RunningGateway;

beforeAll(async () => {
	await buildSiteIfStale();
	browser = await launchChromium();
	gateway = await startGateway({
		PODLAB_MODE: 'class',
		// Students share this machine's lab: the knowing choice that class mode on the local backend needs.
		PODLAB_ALLOW_SHARED_LAB: '1',
		PODLAB_JOIN_CODE: 'pause-container',
		PODLAB_INSTRUCTOR_TOKEN: 'e2e-instructor-token-0123456789',
		PODLAB_STATE_DIR: mkdtempSync(join(tmpdir(), 'podlab-e2e-class-')),
		PODLAB_WORKDIR: mkdtempSync(join(tmpdir(), 'podlab-e2e-work-')),
		PODLAB_IDLE_MS: '10000',
		PODLAB_IDLE_WARNING_MS: '8000',
	});
});

afterAll(async () => {
	await browser?.close();
	await gateway?.stop();
});

describe('a student in class mode', () => {
	it('is sent to /join/ by Run, joins, comes back and runs', async () => {
		const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
		await readableTerminals(context);
		const page = await context.newPage();
		await page.goto(`${gateway.url}lab-check/`);
		await runButton(page, 'lab-check:1').click();
		await page.waitForURL(/\/join\/\?return=%2Flab-check%2F$/);

		await page.getByLabel('Your name').fill('Ada');
		await page.getByLabel('Class code').fill('wrong-code');
		await page.getByRole('button', { name: 'Join' }).click();
		await expect.poll(() => page.locator('#podlab-join-result').textContent()).toBe('That join code is not right: check it with your trainer.');

		await page.getByLabel('Class code').fill('pause-container');
		await page.getByRole('button', { name: 'Join' }).click();
		await page.waitForURL(`${gateway.url}lab-check/`);

		await runButton(page, 'lab-check:1').click();
		await waitForStatus(page, 'lab-check:1', /✓ exit 0/);
		await waitForTerminal(page, /Linux /);
		const roster = await (await fetch(`${gateway.url}api/instructor/students`, { headers: { authorization: 'Bearer e2e-instructor-token-0123456789' } })).json();
		expect(roster.students).toMatchObject([{ name: 'Ada', lastRun: { block: 'lab-check:1', exit: 0 }, connected: true }]);

		// Idle: the panel warns with one button that keeps the session.
		const status = page.locator('[data-panel-status]');
		await expect.poll(() => status.textContent(), { timeout: 10_000 }).toMatch(/^No activity for a while: your shells close at /);
		await page.getByRole('button', { name: 'Stay' }).click();
		await expect.poll(() => status.textContent()).toMatch(/^Connected to /);
		await context.close();
	});
});
