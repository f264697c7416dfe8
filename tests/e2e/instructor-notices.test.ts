/**
 * What a student sees of the instructor, in a real browser: a broadcast message they can dismiss,
 * and "your instructor is typing" while the instructor has taken over their terminal.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSiteIfStale } from '../../scripts/site-build.ts';
import { TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { launchChromium } from './browser.ts';
import { joinedStudent, runButton, waitForStatus, waitForTerminal } from './lab-page.ts';

const TOKEN = 'e2e-instructor-notices-token-01';
let browser: Browser;
let gateway: RunningGateway;

beforeAll(async () => {
	await buildSiteIfStale();
	browser = await launchChromium();
	gateway = await startGateway({
		PODLAB_MODE: 'class',
		// Students share this machine's lab: the knowing choice that class mode on the local backend needs.
		PODLAB_ALLOW_SHARED_LAB: '1',
		PODLAB_JOIN_CODE: 'notices',
		PODLAB_INSTRUCTOR_TOKEN: TOKEN,
		PODLAB_STATE_DIR: mkdtempSync(join(tmpdir(), 'podlab-e2e-notices-')),
		PODLAB_WORKDIR: mkdtempSync(join(tmpdir(), 'podlab-e2e-notices-work-')),
	});
});

afterAll(async () => {
	await browser?.close();
	await gateway?.stop();
});

describe('the student’s panel in class mode', () => {
	it('shows the instructor’s broadcast and take-over', async () => {
		const { context, page, id: studentId } = await joinedStudent(browser, gateway, 'Ada', 'notices');
		await page.goto(`${gateway.url}lab-check/`);
		await runButton(page, 'lab-check:1').click();
		await waitForStatus(page, 'lab-check:1', /✓ exit 0/);
		const status = page.locator('[data-panel-status]');

		await fetch(`${gateway.url}api/instructor/broadcast`, {
			method: 'POST',
			headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
			body: JSON.stringify({ text: 'Break until 11:00' }),
		});
		await expect.poll(() => status.textContent()).toBe('Message from your instructor: Break until 11:00');
		await page.getByRole('button', { name: 'Dismiss' }).click();
		await expect.poll(() => status.textContent()).toMatch(/^Connected to /);

		const session = await fetch(`${gateway.url}api/instructor/session`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
		const instructor = await TestClient.connect(gateway, { cookie: session.headers.get('set-cookie')!.split(';')[0]!, attach: { student: studentId } });
		instructor.send({ t: 'takeover', on: true });
		await expect.poll(() => status.textContent()).toBe('Your instructor is typing in this terminal.');
		instructor.type('echo "typed by the instructor"\r');
		await waitForTerminal(page, /typed by the instructor\n/);
		instructor.close();
		await expect.poll(() => status.textContent()).toMatch(/^Connected to /);
		await context.close();
	});
});
