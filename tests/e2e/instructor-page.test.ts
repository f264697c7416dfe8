/**
 * The instructor page against a real class-mode gateway, with two Chromium contexts: a student
 * reading a chapter and the instructor watching. Sign-in, the roster with its live thumbnail, the
 * board's ✓/✗ arriving within 2 s of the student's run, the live view (read-only, then taken over),
 * broadcast, the commands of a board cell, and the board after a gateway restart.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSiteIfStale } from '../../scripts/site-build.ts';
import { joinClass, TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { launchChromium } from './browser.ts';
import { joinedStudent, runButton, typeCommand, waitForStatus, waitForTerminal } from './lab-page.ts';

/** The README's and self-hosting guide's screenshot; rewritten when missing or with PODLAB_UPDATE_SCREENSHOTS=1. */
const SCREENSHOT = fileURLToPath(new URL('./screenshots/instructor-page.png', import.meta.url));
const TOKEN = 'e2e-instructor-page-token-0001';
const CODE = 'pods-101';

let browser: Browser;
let gateway: RunningGateway;
const stateDir = mkdtempSync(join(tmpdir(), 'podlab-e2e-instructor-'));
const workDir = mkdtempSync(join(tmpdir(), 'podlab-e2e-instructor-work-'));
const gatewayEnv = {
	PODLAB_MODE: 'class',
	// Students share this machine's lab: the knowing choice that class mode on the local backend needs.
	PODLAB_ALLOW_SHARED_LAB: '1',
	PODLAB_JOIN_CODE: CODE,
	PODLAB_INSTRUCTOR_TOKEN: TOKEN,
	PODLAB_STATE_DIR: stateDir,
	PODLAB_WORKDIR: workDir,
};

beforeAll(async () => {
	await buildSiteIfStale();
	browser = await launchChromium();
	gateway = await startGateway(gatewayEnv);
});

afterAll(async () => {
	await browser?.close();
	await gateway?.stop();
});

/** The text of a live-view screen (xterm's DOM renderer: one div per row). */
function liveText(page: Page, term = 'main'): Promise<string> {
	return page
		.locator(`[data-live-screen="${term}"] .xterm-rows`)
		.evaluate((rows) => [...rows.children].map((row) => row.textContent ?? '').join('\n').replace(/\u00a0/g, ' '));
}

async function boardCell(page: Page, studentId: string, chapter: string): Promise<{ ok: number; failed: number }> {
	const cell = page.locator(`[data-cell="${studentId}|${chapter}"]`);
	return { ok: Number(await cell.getAttribute('data-ok')), failed: Number(await cell.getAttribute('data-failed')) };
}

describe('the instructor page', () => {
	it('signs in with the token, then shows the roster, the board, the live view, and broadcasts', async () => {
		const student = await joinedStudent(browser, gateway, 'Ada Lovelace', CODE);
		await student.page.goto(`${gateway.url}lab-check/`);
		await runButton(student.page, 'lab-check:1').click();
		await waitForStatus(student.page, 'lab-check:1', /✓ exit 0/);
		// Two classmates: one working in another chapter (a protocol client), one joined but not started.
		const grace = await joinClass(gateway, 'Grace Hopper', CODE);
		const graceSocket = await TestClient.connect(gateway, { cookie: grace.cookie!, attach: { page: '/chapters/resources/' } });
		await graceSocket.run('ls /sys/fs/cgroup', 'chapters/resources:4');
		await graceSocket.run('(exit 1)', 'chapters/resources:5');
		await joinClass(gateway, 'Linus Torvalds', CODE);

		const instructorContext = await browser.newContext({ viewport: { width: 1280, height: 720 } });
		const page = await instructorContext.newPage();
		const consoleErrors: string[] = [];
		// Chromium reports every 401 (the page asking whether it is signed in, the wrong token) as a console error.
		page.on('console', (message) => message.type() === 'error' && !/status of 401/.test(message.text()) && consoleErrors.push(message.text()));
		page.on('dialog', (dialog) => void dialog.accept());
		await page.goto(`${gateway.url}instructor/`);

		// Sign in: a wrong token is refused with a sentence, the right one opens the console.
		const token = page.getByLabel('Instructor token');
		await token.fill('not-the-token');
		await token.press('Enter');
		await expect.poll(() => page.locator('[data-sign-in-error]').textContent()).toBe('That is not the instructor token.');
		await token.fill(TOKEN);
		await token.press('Enter');
		const card = page.locator(`[data-student="${student.id}"]`);
		await card.waitFor();
		expect(await page.url()).not.toContain(TOKEN);
		const cookies = await instructorContext.cookies();
		expect(cookies.find((cookie) => cookie.name === 'podlab_instructor')?.httpOnly).toBe(true);

		// The roster: name, state, page, last run, and the thumbnail of `main` with the block's output.
		await expect.poll(() => card.locator('.student-name').textContent()).toBe('Ada Lovelace');
		await expect.poll(() => card.locator('.state').textContent()).toBe('active');
		await expect.poll(() => card.locator('dd').first().textContent()).toBe('Check your lab');
		await expect.poll(() => card.locator('dd.ok').textContent()).toBe('✓ lab-check:1');
		await expect.poll(() => card.locator('[data-thumbnail]').textContent(), { timeout: 5_000 }).toMatch(/Linux .*GNU\/Linux/);

		// The board: ✓ for the block run, and a failing block's ✗ within 2 s of the student's `done`.
		await page.getByRole('tab', { name: 'Progress' }).click();
		await expect.poll(() => boardCell(page, student.id, 'lab-check')).toEqual({ ok: 1, failed: 0 });
		await runButton(student.page, 'lab-check:5').click();
		await waitForStatus(student.page, 'lab-check:5', /✗ exit 3/);
		await expect.poll(() => boardCell(page, student.id, 'lab-check'), { timeout: 2_000, interval: 50 }).toEqual({ ok: 1, failed: 1 });

		// A cell lists the student's commands in that chapter.
		await page.locator(`[data-cell="${student.id}|lab-check"]`).click();
		const cellDialog = page.locator('[data-cell-dialog]');
		await expect.poll(() => cellDialog.locator('tbody tr').count(), { timeout: 3000 }).toBe(2).catch(async (error) => {
			throw new Error(`cell shows: ${await cellDialog.textContent()}`, { cause: error });
		});
		expect(await cellDialog.locator('tbody').textContent()).toContain('uname -a');
		await page.keyboard.press('Escape');
		await expect.poll(() => cellDialog.isVisible()).toBe(false);

		// The live view follows what the student types; the instructor's keys go nowhere until taking over.
		await page.getByRole('tab', { name: 'Students' }).click();
		await card.locator('.student-name').focus();
		await page.keyboard.press('Enter');
		const live = page.locator('[data-live]');
		await expect.poll(() => live.locator('[data-live-screen="main"]').getAttribute('data-state')).toBe('connected');
		await typeCommand(student.page, 'echo "typed by $((6*7)) students"');
		await expect.poll(() => liveText(page), { timeout: 5_000 }).toContain('typed by 42 students');
		await live.locator('[data-live-screen="main"] .xterm-helper-textarea').focus();
		await page.keyboard.type('echo sneaky');
		await page.keyboard.press('Enter');
		// Whatever the instructor's keys did would be on screen before what the student types next.
		await typeCommand(student.page, 'echo "student again"');
		await expect.poll(() => liveText(page), { timeout: 5_000 }).toContain('student again');
		expect(await liveText(page)).not.toContain('sneaky');

		// Take over: the student's panel says so, the instructor's typing reaches the shell; giving back clears it.
		const studentStatus = student.page.locator('[data-panel-status]');
		await live.getByRole('button', { name: 'Take over' }).click();
		await expect.poll(() => studentStatus.textContent()).toBe('Your instructor is typing in this terminal.');
		expect(await live.locator('[data-takeover]').getAttribute('aria-pressed')).toBe('true');
		await live.locator('[data-live-screen="main"] .xterm-helper-textarea').focus();
		await page.keyboard.type('echo "instructor was $((40+2))"');
		await page.keyboard.press('Enter');
		await waitForTerminal(student.page, /instructor was 42/);
		// Escape belongs to the shell while typing there (vi, less): the view closes with its button.
		await live.getByRole('button', { name: 'Close the live view' }).click();
		await expect.poll(() => live.isVisible()).toBe(false);
		await expect.poll(() => card.locator('[data-thumbnail]').textContent()).toContain('instructor was 42');
		if (!existsSync(SCREENSHOT) || process.env.PODLAB_UPDATE_SCREENSHOTS === '1') {
			mkdirSync(dirname(SCREENSHOT), { recursive: true });
			writeFileSync(SCREENSHOT, await page.screenshot());
		}
		await expect.poll(() => studentStatus.textContent()).toMatch(/^Connected to /);

		// Broadcast from the form reaches the student's panel.
		await page.getByLabel('Message to the class').fill('Pause: back at 11:00');
		await page.getByRole('button', { name: 'Send' }).click();
		await expect.poll(() => page.locator('[data-broadcast-result]').textContent()).toBe('Sent to 2 students with a terminal open.');
		await expect.poll(() => studentStatus.textContent()).toBe('Message from your instructor: Pause: back at 11:00');

		expect(consoleErrors, consoleErrors.join('\n')).toEqual([]);

		// A gateway restart (same address): without a reload, the page follows again, the board still
		// shows the earlier runs (read from the state directory), and the thumbnail watches the
		// student's new shell once their panel has reconnected.
		const feed = page.locator('[data-feed-status]');
		expect(await feed.textContent()).toBe('Live');
		await gateway.stop();
		await expect.poll(() => feed.textContent()).toBe('Reconnecting to the gateway…');
		gateway = await startGateway({ ...gatewayEnv, PORT: new URL(gateway.url).port });
		await expect.poll(() => feed.textContent(), { timeout: 10_000 }).toBe('Live');
		await expect.poll(() => boardCell(page, student.id, 'lab-check')).toEqual({ ok: 1, failed: 1 });
		await page.getByRole('tab', { name: 'Students' }).click();
		await typeCommand(student.page, 'echo "after the restart"');
		await expect.poll(() => card.locator('[data-thumbnail]').textContent(), { timeout: 15_000 }).toContain('after the restart');
		await instructorContext.close();
		await student.context.close();
		graceSocket.close();
	});

	it('tells a browser without the instructor cookie to sign in, and shows no student', async () => {
		const context = await browser.newContext();
		const page = await context.newPage();
		await page.goto(`${gateway.url}instructor/`);
		await page.getByLabel('Instructor token').waitFor();
		expect(await page.locator('[data-console]').isHidden()).toBe(true);
		const events = await page.evaluate(async () => (await fetch('/api/instructor/events')).status);
		expect(events).toBe(401);
		await context.close();
	});

	it('says there is no class to watch on a gateway in local mode', async () => {
		const local = await startGateway({ PODLAB_WORKDIR: workDir });
		const context = await browser.newContext();
		try {
			const page = await context.newPage();
			await page.goto(`${local.url}instructor/`);
			await expect.poll(() => page.locator('[data-unavailable]').textContent()).toMatch(/^This gateway runs in local mode: there is no class to watch\./);
			expect(await page.getByLabel('Instructor token').isVisible()).toBe(false);
		} finally {
			await context.close();
			await local.stop();
		}
	});
});
