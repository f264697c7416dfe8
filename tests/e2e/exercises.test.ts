/**
 * Exercises in a real Chromium against a real gateway on the incus backend (a lab per reader): the
 * sample exercise of /lab-check/ checked before and after it is solved, its hints one at a time, the
 * result kept across a reload; in class mode, the instructor's board column for it. Screenshots of
 * the exercise at desktop and phone sizes, to look at.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { RunningGateway } from '../helpers/gateway.ts';
import { assertLabUsable } from '../lab/lab-required.ts';
import { incusReaders } from './incus-readers.ts';
import { joinedStudent, readableTerminals, runButton, waitForStatus } from './lab-page.ts';

const readers = await incusReaders();
const { skip, problem } = readers;
const SHOTS = mkdtempSync(join(tmpdir(), 'podlab-exercise-shots-'));
const EXERCISE = 'lab-check-hello';
const SOLUTION = 'lab-check:10';
const TOKEN = 'e2e-exercises-instructor-token';
const CODE = 'check-101';

const gateway = (env: Record<string, string>): Promise<RunningGateway> => readers.gateway({ PODLAB_LAB_BACKEND: 'incus', PODLAB_LAB_WARM_LABS: '1', ...env }, 'exercise');

const exercise = (page: Page) => page.locator(`podlab-exercise[data-exercise="${EXERCISE}"]`);
const status = (page: Page) => exercise(page).locator('[data-exercise-status]');

/** Scrolls to the exercise (its behaviour loads once it is on screen), presses Check and waits for the answer (the button says Checking… meanwhile). */
async function check(page: Page): Promise<string> {
	await exercise(page).scrollIntoViewIfNeeded();
	await exercise(page).getByRole('button', { name: 'Check', exact: true }).click();
	await expect.poll(() => status(page).textContent(), { timeout: 30_000 }).not.toMatch(/^(Checking…)?$/);
	return (await status(page).textContent())!;
}

describe.skipIf(skip !== null)(`an exercise, on the incus backend${skip ? ` (skipped: ${skip})` : ''}`, () => {
	it('says what is still wrong, then ✓ once solved, and keeps the ✓ after a reload; its script is not on the page', async () => {
		assertLabUsable(problem);
		const gw = await gateway({});
		const context = await readers.browser().newContext({ viewport: { width: 1366, height: 768 } });
		await readableTerminals(context);
		const page = await context.newPage();
		await page.goto(`${gw.url}lab-check/`);
		expect(await page.content()).not.toContain('There is no hello.txt in your home directory yet.');
		await exercise(page).scrollIntoViewIfNeeded();

		// Hints, one at a time.
		const hintButton = exercise(page).locator('[data-exercise-hint-button]');
		await expect.poll(() => hintButton.textContent()).toBe('Show a hint (1 of 2)');
		await hintButton.click();
		expect(await exercise(page).locator('details[data-exercise-hint][open]').count()).toBe(1);
		await hintButton.click();
		expect(await exercise(page).locator('details[data-exercise-hint][open]').count()).toBe(2);
		expect(await hintButton.isVisible()).toBe(false);

		expect(await check(page)).toBe('Not yet: There is no hello.txt in your home directory yet.');
		await page.screenshot({ path: join(SHOTS, 'exercise-not-yet-desktop.png') });

		// The solution's block runs in the reader's lab like any block.
		await exercise(page).getByText('Show the solution').click();
		await runButton(page, SOLUTION).click();
		await waitForStatus(page, SOLUTION, /✓ exit 0/, 60_000);
		expect(await check(page)).toBe('✓ Solved');

		await page.reload();
		await expect.poll(() => status(page).textContent(), { timeout: 10_000 }).toBe('✓ Solved');
		await page.setViewportSize({ width: 390, height: 844 });
		await exercise(page).scrollIntoViewIfNeeded();
		await page.screenshot({ path: join(SHOTS, 'exercise-solved-phone.png') });
		// Nothing of the exercise is wider than the phone.
		expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
		await context.close();
	}, 180_000);

	it('shows the instructor who has solved it, and when, in its column of the progress board', async () => {
		assertLabUsable(problem);
		const gw = await gateway({ PODLAB_MODE: 'class', PODLAB_JOIN_CODE: CODE, PODLAB_INSTRUCTOR_TOKEN: TOKEN });
		const student = await joinedStudent(readers.browser(), gw, 'Grace Hopper', CODE);
		await student.page.goto(`${gw.url}lab-check/`);
		expect(await check(student.page)).toMatch(/^Not yet: /);

		const instructor = await (await readers.browser().newContext({ viewport: { width: 1280, height: 720 } })).newPage();
		await instructor.goto(`${gw.url}instructor/`);
		await instructor.getByLabel('Instructor token').fill(TOKEN);
		await instructor.getByLabel('Instructor token').press('Enter');
		await instructor.getByRole('tab', { name: 'Progress' }).click();
		const board = instructor.locator('[data-board]');
		expect(await board.locator('thead th.exercise').allTextContents()).toContain('Create a file in your lab');
		const cell = board.locator(`tbody tr:has-text("Grace Hopper") td.exercise[data-exercise="${EXERCISE}"]`);
		await expect.poll(() => cell.getAttribute('data-state'), { timeout: 10_000 }).toBe('not-yet');

		await student.page.getByText('Show the solution').click();
		await runButton(student.page, SOLUTION).click();
		await waitForStatus(student.page, SOLUTION, /✓ exit 0/, 60_000);
		expect(await check(student.page)).toBe('✓ Solved');
		await expect.poll(() => cell.getAttribute('data-state'), { timeout: 10_000 }).toBe('solved');
		expect(await cell.textContent()).toMatch(/^✓ \d{1,2}:\d{2}/);
		await instructor.screenshot({ path: join(SHOTS, 'board-exercise-column.png') });
		await student.context.close();
		await instructor.context().close();
	}, 180_000);
});

// The check script stays off the page: the built page carries the id only.
describe('the built page', () => {
	it('carries an exercise’s id, never its check script', () => {
		const html = readFileSync('dist/lab-check/index.html', 'utf8');
		expect(html).toContain(`data-exercise="${EXERCISE}"`);
		expect(html).not.toContain('does not say hello');
	});
});
