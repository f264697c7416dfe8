/**
 * "Reset my lab" in a real Chromium against a real gateway: the reader's Reset lab in the terminal
 * panel and on /lab-check/ (local mode on the incus backend), the instructor's per-student and
 * whole-class resets with the roster's lab (class mode on incus), and no reset at all on the `local`
 * backend. Also the panel's toolbar and confirmation bar on a laptop and on a phone, with
 * screenshots to look at.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContextOptions, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../helpers/gateway.ts';
import { assertLabUsable } from '../lab/lab-required.ts';
import { incusReaders } from './incus-readers.ts';
import { joinedStudent, readableTerminals, READER_VIEWPORTS, runButton, typeCommand, waitForStatus, waitForTerminal, waitForTerminalUnwrapped } from './lab-page.ts';

const readers = await incusReaders();
const { skip, problem } = readers;
const SHOTS = mkdtempSync(join(tmpdir(), 'podlab-lab-reset-shots-'));
const TOKEN = 'e2e-lab-reset-instructor-token';
const CODE = 'reset-101';
const RESET_NOTICE = /Your lab was reset: a fresh, empty one is starting, and this terminal reconnects to it\./;

const gateway = (env: Record<string, string>): Promise<RunningGateway> => readers.gateway(env, 'reset');

/** A reader of `gw` on /lab-check/ with the panel open on a shell (block 1 run, ✓). */
async function readerWithShell(gw: RunningGateway, options: BrowserContextOptions = { viewport: { width: 1366, height: 768 } }): Promise<Page> {
	const context = await readers.browser().newContext(options);
	await readableTerminals(context);
	const page = await context.newPage();
	await page.goto(`${gw.url}lab-check/`);
	await runButton(page, 'lab-check:1').click();
	await waitForStatus(page, 'lab-check:1', /✓ exit 0/, 30_000);
	return page;
}

/** The lab's name as its shell's `hostname` says it, from a line `host=…` the command prints. */
async function hostOf(page: Page, marker: string): Promise<string> {
	await typeCommand(page, `echo "${marker}=$(hostname)"`);
	const text = await waitForTerminal(page, new RegExp(`${marker}=lab-[0-9a-f]{8}`));
	return new RegExp(`${marker}=(lab-[0-9a-f]{8})`).exec(text)![1]!;
}

const panelStatus = (page: Page) => page.locator('[data-panel-status]').textContent();
/** Which of the reset's controls has the keyboard. */
const focused = (page: Page) =>
	page.evaluate(() => {
		const element = document.activeElement;
		if (element?.matches('[data-panel-reset-cancel]')) return 'cancel';
		if (element?.matches('[data-panel-reset-toggle]')) return 'toggle';
		return element?.outerHTML.slice(0, 80) ?? 'nothing';
	});

describe('on the local backend', () => {
	it('offers no reset: neither in the panel nor on /lab-check/', async () => {
		const gw = await gateway({ PODLAB_LAB_BACKEND: 'local' });
		const page = await readerWithShell(gw);
		expect((await (await page.request.get(`${gw.url}api/lab`)).json()).resettable).toBe(false);
		// Every answer of /api/lab has arrived (the panel's and the /lab-check/ button's).
		await page.waitForLoadState('networkidle');
		expect(await page.locator('[data-panel-reset-toggle]').isVisible()).toBe(false);
		expect(await page.locator('podlab-lab-reset').isVisible()).toBe(false);
		expect(await page.getByRole('button', { name: /reset/i }).count()).toBe(0);
		await page.context().close();
	}, 60_000);
});

describe.skipIf(skip !== null)(`on the incus backend${skip ? ` (skipped: ${skip})` : ''}`, () => {
	let local: RunningGateway;

	beforeAll(async () => {
		assertLabUsable(problem);
		local = await gateway({ PODLAB_LAB_BACKEND: 'incus', PODLAB_LAB_WARM_LABS: '1' });
	}, 60_000);

	it('resets the reader’s lab from the panel: Cancel keeps it; Reset lab gives a fresh one the terminal reconnects to', async () => {
		const page = await readerWithShell(local);
		const oldLab = await hostOf(page, 'before');
		await typeCommand(page, 'echo kept > /root/reset-probe && echo "probe written"');
		await waitForTerminal(page, /^probe written/m);
		const toggle = page.locator('[data-panel-reset-toggle]');
		const bar = page.locator('[data-panel-reset]');
		await expect.poll(() => toggle.isVisible(), { timeout: 10_000 }).toBe(true);

		// The question opens in the panel, on Cancel; Escape and Cancel both close it, keeping everything.
		await toggle.click();
		expect(await bar.isVisible()).toBe(true);
		expect(await bar.textContent()).toMatch(/Reset your lab\? Everything in it is deleted — files, pods, running commands — and a fresh, empty lab starts\./);
		expect(await toggle.getAttribute('aria-expanded')).toBe('true');
		expect(await focused(page)).toBe('cancel');
		await page.screenshot({ path: join(SHOTS, 'panel-reset-desktop.png') });
		await page.keyboard.press('Escape');
		expect(await bar.isVisible()).toBe(false);
		expect(await focused(page)).toBe('toggle');
		await toggle.click();
		await page.locator('[data-panel-reset-cancel]').click();
		expect(await bar.isVisible()).toBe(false);
		await typeCommand(page, 'cat /root/reset-probe; echo "still $(hostname)"');
		await waitForTerminal(page, new RegExp(`^kept\\n.*still ${oldLab}`, 'm'));

		// Reset by keyboard: Enter opens the question, Shift+Tab from Cancel reaches Reset lab.
		await toggle.focus();
		await page.keyboard.press('Enter');
		await page.keyboard.press('Shift+Tab');
		await page.keyboard.press('Enter');
		await waitForTerminalUnwrapped(page, RESET_NOTICE);
		await expect.poll(() => panelStatus(page), { timeout: 15_000 }).toMatch(/^Connected to a fresh lab \(reset in \d+ ms\)\.$/);
		// The screen keeps the old lab's output and the line about the reset, then the new shell.
		await waitForTerminal(page, /A shell in your fresh lab/);
		expect(await page.locator('[data-panel-terminals]').textContent()).toContain('probe written');
		const newLab = await hostOf(page, 'after');
		expect(newLab).not.toBe(oldLab);
		await typeCommand(page, 'ls /root/reset-probe 2>&1 | sed "s/^/probe: /"');
		await waitForTerminal(page, /^probe: .*No such file or directory/m);
		// Runs work in the fresh lab.
		await runButton(page, 'lab-check:2').click();
		await waitForStatus(page, 'lab-check:2', /✓ exit 0/);
		await page.context().close();
	}, 120_000);

	it('resets from /lab-check/’s button too (after the reader’s first Run); the open panel follows', async () => {
		const context = await readers.browser().newContext({ viewport: { width: 1366, height: 768 } });
		await readableTerminals(context);
		const page = await context.newPage();
		await page.goto(`${local.url}lab-check/`);
		const section = page.locator('podlab-lab-reset');
		// It shows itself once GET /api/lab answers, which asks Incus about every lab: slower under load.
		await expect.poll(() => section.isVisible(), { timeout: 10_000 }).toBe(true);
		expect(await section.textContent()).toMatch(/a fresh, empty lab/);
		const button = section.getByRole('button', { name: 'Reset my lab' });
		const status = section.locator('[data-lab-reset-status]');
		// Before any Run the reader has no lab at all.
		await button.click();
		await section.getByRole('button', { name: 'Reset lab', exact: true }).click();
		await expect.poll(() => status.textContent()).toBe('You have no lab yet: it starts with your first Run.');

		await runButton(page, 'lab-check:1').click();
		await waitForStatus(page, 'lab-check:1', /✓ exit 0/, 30_000);
		const oldLab = await hostOf(page, 'before');
		await button.click();
		// Cancel here leaves the lab as it is too.
		await section.getByRole('button', { name: 'Cancel' }).click();
		expect(await section.locator('[data-lab-reset-bar]').isVisible()).toBe(false);
		await button.click();
		await section.getByRole('button', { name: 'Reset lab', exact: true }).click();
		await expect.poll(() => status.textContent(), { timeout: 10_000 }).toMatch(/^Your lab was reset in \d+ ms: lab-[0-9a-f]{8} is fresh and empty/);
		const named = /(lab-[0-9a-f]{8}) is fresh/.exec((await status.textContent())!)![1];
		expect(named).not.toBe(oldLab);
		await waitForTerminalUnwrapped(page, RESET_NOTICE);
		await waitForTerminal(page, /A shell in your fresh lab/);
		await expect.poll(() => panelStatus(page), { timeout: 15_000 }).toMatch(/^Connected to a fresh lab/);
		expect(await hostOf(page, 'after')).toBe(named);
		await context.close();
	}, 120_000);

	it.each(READER_VIEWPORTS)('fits the panel’s toolbar and the question on a $name', async ({ name, options }) => {
		const page = await readerWithShell(local, options);
		const toggle = page.locator('[data-panel-reset-toggle]');
		await expect.poll(() => toggle.isVisible(), { timeout: 10_000 }).toBe(true);
		await toggle.click();
		const shot = join(SHOTS, `panel-reset-${name}.png`);
		await page.screenshot({ path: shot });
		console.info(`lab reset: screenshot ${shot}`);
		const { width } = page.viewportSize()!;
		const outside = await page.evaluate((viewport) => {
			const panel = document.querySelector('podlab-terminal-panel')!;
			const controls = [...panel.querySelectorAll<HTMLElement>('.bar > *, .busy > *, .tabs > *')].filter((element) => element.offsetParent !== null);
			return controls
				.filter((element) => {
					const box = element.getBoundingClientRect();
					return box.left < 0 || box.right > viewport || element.scrollWidth > element.clientWidth + 1;
				})
				.map((element) => element.outerHTML.slice(0, 80));
		}, width);
		expect(outside).toEqual([]);
		// One terminal's tab and every tool share one row: the close button does not wrap to a row of its own.
		const rows = await page.evaluate(() => {
			const tools = [...document.querySelectorAll<HTMLElement>('podlab-terminal-panel .bar > :not([data-panel-status])')].filter((element) => element.offsetParent !== null);
			return new Set(tools.map((element) => Math.round(element.getBoundingClientRect().top + element.getBoundingClientRect().height / 2))).size;
		});
		expect(rows).toBe(1);
		expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
		// The terminal keeps a few rows in view (the prompt) under the toolbar and the question.
		const terminalBox = await page.locator('#podlab-tabpanel-main').boundingBox();
		const rowHeight = await page.locator('#podlab-tabpanel-main .xterm-accessibility-tree > div').first().evaluate((row) => row.getBoundingClientRect().height);
		expect(terminalBox!.height).toBeGreaterThanOrEqual(2 * rowHeight);
		await page.context().close();
	}, 60_000);
});

describe.skipIf(skip !== null)(`the instructor, in class mode on the incus backend${skip ? ` (skipped: ${skip})` : ''}`, () => {
	it('sees each student’s lab and memory on the roster, and resets one student’s lab, then every lab', async () => {
		assertLabUsable(problem);
		const gw = await gateway({ PODLAB_MODE: 'class', PODLAB_JOIN_CODE: CODE, PODLAB_INSTRUCTOR_TOKEN: TOKEN, PODLAB_LAB_BACKEND: 'incus', PODLAB_LAB_WARM_LABS: '1' });
		const student = await joinedStudent(readers.browser(), gw, 'Ada Lovelace', CODE);
		await student.page.goto(`${gw.url}lab-check/`);
		await runButton(student.page, 'lab-check:1').click();
		await waitForStatus(student.page, 'lab-check:1', /✓ exit 0/, 30_000);
		const oldLab = await hostOf(student.page, 'before');
		await typeCommand(student.page, 'echo kept > /root/reset-probe && echo "probe written"');
		await waitForTerminal(student.page, /^probe written/m);

		const instructor = await readers.browser().newContext({ viewport: { width: 1280, height: 720 } });
		const page = await instructor.newPage();
		await page.goto(`${gw.url}instructor/`);
		await page.getByLabel('Instructor token').fill(TOKEN);
		await page.getByLabel('Instructor token').press('Enter');
		const card = page.locator(`[data-student="${student.id}"]`);
		await expect.poll(() => card.locator('dd.lab').textContent(), { timeout: 10_000 }).toBe(`${oldLab} · running`);
		expect(await card.locator('dd.memory').textContent()).toMatch(/^\d+(\.\d)? MiB$/);
		expect(await card.locator('dt').allTextContents()).not.toContain('Lab host');
		await expect.poll(() => page.getByRole('button', { name: 'Reset every lab' }).isVisible()).toBe(true);

		// The live view's Reset lab asks first; dismissed, nothing happens.
		await card.locator('.student-name').click();
		const live = page.locator('[data-live]');
		const reset = live.getByRole('button', { name: 'Reset lab', exact: true });
		await expect.poll(() => reset.isVisible()).toBe(true);
		expect(await live.locator('[data-live-meta]').textContent()).toContain(`lab ${oldLab}`);
		let question = '';
		page.once('dialog', (dialog) => {
			question = dialog.message();
			void dialog.dismiss();
		});
		await reset.click();
		await expect.poll(() => question).toMatch(/^Reset Ada Lovelace's lab\? Everything in it — files, pods, running commands — is deleted/);
		expect(await live.locator('[data-reset-result]').textContent()).toBe('');

		// Accepted: the student gets a fresh lab, the roster says which, their terminal reconnects to it.
		page.once('dialog', (dialog) => void dialog.accept());
		await reset.click();
		const result = live.locator('[data-reset-result]');
		await expect.poll(() => result.textContent(), { timeout: 10_000 }).toMatch(/^Lab reset in \d+ ms: Ada Lovelace now has lab-[0-9a-f]{8}\.$/);
		const newLab = /now has (lab-[0-9a-f]{8})/.exec((await result.textContent())!)![1]!;
		expect(newLab).not.toBe(oldLab);
		await expect.poll(() => card.locator('dd.lab').textContent(), { timeout: 10_000 }).toBe(`${newLab} · running`);
		// The student's screen keeps the gateway's line about the reset, then the new shell.
		await waitForTerminalUnwrapped(student.page, RESET_NOTICE);
		await waitForTerminal(student.page, /A shell in your fresh lab\./);
		expect(await hostOf(student.page, 'after')).toBe(newLab);
		await typeCommand(student.page, 'ls /root/reset-probe 2>&1 | sed "s/^/probe: /"');
		await waitForTerminal(student.page, /^probe: .*No such file or directory/m);

		// The whole class.
		await live.getByRole('button', { name: 'Close the live view' }).click();
		page.once('dialog', (dialog) => void dialog.accept());
		await page.getByRole('button', { name: 'Reset every lab' }).click();
		await expect.poll(() => page.locator('[data-reset-all-result]').textContent(), { timeout: 15_000 }).toMatch(/^Reset 1 lab in \d+\.\d s\.$/);
		await expect.poll(() => card.locator('dd.lab').textContent(), { timeout: 10_000 }).not.toBe(`${newLab} · running`);
		await expect.poll(() => card.locator('dd.lab').textContent()).toMatch(/^lab-[0-9a-f]{8} · running$/);
		await page.screenshot({ path: join(SHOTS, 'instructor-labs.png') });
		await instructor.close();
		await student.context.close();
	}, 180_000);
});
