/**
 * A new reader's first ten minutes, at a laptop's size and a phone's (touch: `pointer: coarse`):
 * the page shows the lab's tabs before the first Run, the block run stays in view above the panel,
 * a block stopped with Ctrl-C as told is no failure, multi-line blocks appear in the terminal line
 * by line, ✓/✗ come back after a reload, the Terminal button reopens the panel, recorded output
 * wraps, touch targets are 44 px, Ctrl+V pastes, and the CJK characters have a font.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildSiteIfStale } from '../../scripts/site-build.ts';
import { resetLab } from '../doctest/lab-hooks.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { podmanLabProblem, skipReason } from '../lab/lab-required.ts';
import { launchChromium } from './browser.ts';
import {
	replayedTerminalRows,
	blockStatus,
	READER_VIEWPORTS,
	readableTerminals,
	runButton,
	terminalText,
	typeCommand,
	waitForStatus,
	waitForTerminal,
} from './lab-page.ts';

const labSkip = skipReason(await podmanLabProblem());

let gateway: RunningGateway;
let browser: Browser;
let workdir: string;

beforeAll(async () => {
	await buildSiteIfStale();
	workdir = mkdtempSync(join(tmpdir(), 'podlab-e2e-first-'));
	gateway = await startGateway({ PODLAB_WORKDIR: workdir });
	browser = await launchChromium();
});

afterAll(async () => {
	await browser?.close();
	await gateway?.stop();
	if (workdir) rmSync(workdir, { recursive: true, force: true });
});

const url = (path: string) => new URL(path, gateway.url).href;

/** Where on screen an element is, and whether it is the thing at its own centre (not covered). */
async function onScreen(locator: Locator): Promise<{ top: number; bottom: number; uncovered: boolean }> {
	return locator.evaluate((element) => {
		const box = element.getBoundingClientRect();
		const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
		return { top: box.top, bottom: box.bottom, uncovered: hit !== null && (element === hit || element.contains(hit)) };
	});
}

/** The top of the panel and the bottom of the page's fixed header (and, on a phone, its "On this page" bar). */
async function readingArea(page: Page): Promise<{ top: number; bottom: number }> {
	return page.evaluate(() => {
		const header = document.querySelector('.header')!.getBoundingClientRect();
		const mobileToc = document.querySelector('mobile-starlight-toc nav')?.getBoundingClientRect();
		const panel = document.querySelector('podlab-terminal-panel')!.getBoundingClientRect();
		return { top: Math.max(header.bottom, mobileToc?.bottom ?? 0), bottom: panel.top };
	});
}

describe.each(READER_VIEWPORTS)('a new reader on a $name', ({ name, options }) => {
	let context: BrowserContext;
	let page: Page;

	beforeEach(async () => {
		context = await browser.newContext({ ...options, colorScheme: 'dark' });
		await readableTerminals(context);
		page = await context.newPage();
	});

	afterEach(async () => {
		await context?.close();
	});

	describe.skipIf(labSkip !== null)('on the podman lab', () => {
		it('finds the podman tabs selected before the first Run: Home → Start reading → Run is a podman command', async () => {
			// Which page asked GET /api/lab: the tabs, the Terminal button and the panel share one answer per page.
			const labAskedBy: string[] = [];
			page.on('request', (request) => {
				if (new URL(request.url()).pathname === '/api/lab') labAskedBy.push(new URL(request.frame().url()).pathname);
			});
			await page.goto(url('/'));
			await page.getByRole('link', { name: 'Start reading' }).click();
			await page.waitForURL('**/chapters/introduction/');
			// What a reader does at once: run the first block they can see in the lab tabs.
			const first = page.locator('starlight-tabs[data-sync-key="lab"] button[data-podlab-run]:visible').first();
			const block = (await first.getAttribute('data-podlab-block'))!;
			await first.click();
			expect(await first.getAttribute('data-podlab-code')).toMatch(/^podman /);
			expect(await waitForStatus(page, block, /✓|✗/)).toBe('✓ exit 0');
			// Starlight remembers a tab the reader clicks; the page chose this one, so nothing is remembered.
			expect(await page.evaluate(() => localStorage.getItem('starlight-synced-tabs__lab'))).toBeNull();
			await page.waitForLoadState('networkidle');
			expect(labAskedBy).toEqual(['/', '/chapters/introduction/']);
		});

		it('shows a tall multi-line block in the terminal line by line, as pasted, with nothing overwritten', async () => {
			await resetLab();
			try {
				await page.goto(url('/chapters/pause/'));
				const block = 'chapters/pause:2';
				const code = (await runButton(page, block).getAttribute('data-podlab-code'))!.replaceAll('\u007f', '\n');
				expect(code.split('\n').length).toBeGreaterThan(25);
				await runButton(page, block).click();
				expect(await waitForStatus(page, block, /✓|✗/, 60_000)).toBe('✓ exit 0');
				const rows = await replayedTerminalRows(page);
				const shown = rows.join('');
				// Rows are joined as they wrap; whitespace (tabs, indentation, the continuation prompt) is loose.
				const squeeze = (text: string) => text.replace(/\s+/g, ' ').trim();
				let from = 0;
				for (const line of code.split('\n').filter((line) => line.trim() !== '')) {
					const at = squeeze(shown).indexOf(squeeze(line), from);
					expect(at, `"${line}" after position ${from} in:\n${rows.join('\n')}`).toBeGreaterThanOrEqual(from);
					from = at + squeeze(line).length;
				}
			} finally {
				await resetLab();
			}
		}, 120_000);
	});

	it('keeps the block it ran, its result and the focus in view above the panel', async () => {
		await page.goto(url('/lab-check/'));
		const button = runButton(page, 'lab-check:2');
		// The block sits low in the window, where the panel is about to open.
		await button.evaluate((element) => window.scrollBy(0, element.getBoundingClientRect().top - window.innerHeight * 0.85));
		await button.click();
		expect(await waitForStatus(page, 'lab-check:2', /✓|✗/)).toBe('✓ exit 0');
		const area = await readingArea(page);
		for (const part of [button, blockStatus(page, 'lab-check:2')]) {
			const box = await onScreen(part);
			expect(box.top).toBeGreaterThanOrEqual(area.top);
			expect(box.bottom).toBeLessThanOrEqual(area.bottom);
			expect(box.uncovered).toBe(true);
		}
		expect(await button.evaluate((element) => element === document.activeElement)).toBe(true);
		// Sharing the screen: the panel leaves at least half the window to the page.
		expect(area.bottom - area.top).toBeGreaterThanOrEqual(page.viewportSize()!.height * 0.45);
	});

	it('marks a block that runs `until` stopped, not failed, when the reader presses Ctrl-C as the chapter says', async () => {
		await page.goto(url('/chapters/oom/'));
		const block = (await page.locator('button[data-podlab-until]').first().getAttribute('data-podlab-block'))!;
		await runButton(page, block).click();
		expect(await waitForStatus(page, block, /✓|✗/)).toBe('✓ running');
		await page.locator('#podlab-tabpanel-logs .xterm-helper-textarea').focus();
		await page.keyboard.press('Control+C');
		expect(await waitForStatus(page, block, /stopped|✗/)).toBe('✓ stopped (Ctrl-C)');
		// After a reload the saved result (exit 130) reads the same.
		await page.reload();
		expect(await waitForStatus(page, block, /stopped|✗/)).toBe('✓ stopped (Ctrl-C)');
	});

	it('shows a multi-line block taller than the terminal line by line (a file written to the lab)', async () => {
		await page.goto(url('/chapters/oom/'));
		const write = page.locator('button[data-podlab-run="write"]').first();
		const block = (await write.getAttribute('data-podlab-block'))!;
		const code = (await write.getAttribute('data-podlab-code'))!.replaceAll('\u007f', '\n');
		expect(code.split('\n').length).toBeGreaterThan(30);
		await write.click();
		expect(await waitForStatus(page, block, /✓|✗/)).toBe('✓ exit 0');
		const shown = (await replayedTerminalRows(page)).join('');
		const squeeze = (text: string) => text.replace(/\s+/g, ' ').trim();
		let from = 0;
		for (const line of code.split('\n').filter((line) => line.trim() !== '')) {
			const at = squeeze(shown).indexOf(squeeze(line), from);
			expect(at, `"${line}" after position ${from}`).toBeGreaterThanOrEqual(from);
			from = at + squeeze(line).length;
		}
	});

	it('keeps ✓/✗ across a reload and other pages, and counts each chapter in the sidebar', async () => {
		await page.goto(url('/lab-check/'));
		await runButton(page, 'lab-check:1').click();
		expect(await waitForStatus(page, 'lab-check:1', /✓|✗/)).toBe('✓ exit 0');
		await runButton(page, 'lab-check:5').click();
		expect(await waitForStatus(page, 'lab-check:5', /✓|✗/)).toBe('✗ exit 3');

		await page.reload();
		expect(await waitForStatus(page, 'lab-check:1', /✓|✗/)).toBe('✓ exit 0');
		expect(await waitForStatus(page, 'lab-check:5', /✓|✗/)).toBe('✗ exit 3');
		expect(await blockStatus(page, 'lab-check:2').textContent()).toBe('');

		// Another page, then back, in a new tab of the same browser: the marks are the gateway's.
		await page.goto(url('/chapters/namespaces/'));
		const later = await context.newPage();
		await page.close();
		await later.goto(url('/lab-check/'));
		expect(await waitForStatus(later, 'lab-check:1', /✓|✗/)).toBe('✓ exit 0');
		if (name === 'phone') await later.getByRole('button', { name: 'Menu' }).click();
		const progress = later.locator('nav[aria-label="Main"] a[href="/lab-check/"] .podlab-progress');
		await expect.poll(() => progress.textContent()).toBe('1/10, 1 of 10 blocks run');
		expect(await progress.isVisible()).toBe(true);
		// This page's link is filled with the accent colour: the badge is written in the link's own colour.
		const [badgeColor, linkColor] = await progress.evaluate((badge) => [getComputedStyle(badge).color, getComputedStyle(badge.closest('a')!).color]);
		expect(await progress.evaluate((badge) => badge.closest('a')!.getAttribute('aria-current'))).toBe('page');
		expect(badgeColor).toBe(linkColor);
	});

	it('opens the terminal from a Terminal button on any page, by keyboard too, and says what closing does', async () => {
		await page.goto(url('/chapters/namespaces/'));
		const launcher = page.getByRole('button', { name: 'Terminal', exact: true });
		await expect.poll(() => launcher.isVisible()).toBe(true);
		// The last stop of the page's tab order: one Shift+Tab from the start of the page.
		await page.keyboard.press('Shift+Tab');
		expect(await launcher.evaluate((element) => element === document.activeElement)).toBe(true);
		await page.keyboard.press('Enter');
		const panel = page.locator('podlab-terminal-panel');
		await expect.poll(() => panel.isVisible()).toBe(true);
		expect(await launcher.isVisible()).toBe(false);
		// The keyboard is in the terminal.
		// Focused once attached: the first Run of a page loads the terminal and its socket first.
		await expect.poll(() => page.evaluate(() => document.activeElement?.classList.contains('xterm-helper-textarea')), { timeout: 10_000 }).toBe(true);
		await page.keyboard.type('echo "opened $$"');
		await page.keyboard.press('Enter');
		const pid = (await waitForTerminal(page, /opened \d+/)).match(/opened (\d+)/)![1];

		await page.getByRole('button', { name: 'Help' }).click();
		const help = page.locator('#podlab-panel-help');
		expect(await help.isVisible()).toBe(true);
		expect(await help.textContent()).toMatch(/Closing the panel keeps your shells running for 10 minutes/);
		expect(await page.getByRole('button', { name: 'Close the terminal panel' }).getAttribute('title')).toBe('Close — your shells keep running for 10 minutes');

		await page.getByRole('button', { name: 'Close the terminal panel' }).click();
		expect(await panel.isHidden()).toBe(true);
		await page.reload();
		await expect.poll(() => launcher.isVisible()).toBe(true);
		await launcher.click();
		await typeCommand(page, 'echo "again $$"');
		expect((await waitForTerminal(page, /again \d+/)).match(/again (\d+)/)![1]).toBe(pid);
	});

	it('wraps long lines of recorded output instead of cutting them', async () => {
		await page.goto(url('/chapters/pause/'));
		const boxes = page.locator('details.podlab-recorded');
		expect(await boxes.count()).toBeGreaterThan(10);
		await boxes.evaluateAll((all) => all.forEach((details) => ((details as HTMLDetailsElement).open = true)));
		const cut = await page.locator('details.podlab-recorded pre').evaluateAll((pres) =>
			pres.filter((pre) => pre.scrollWidth > pre.clientWidth + 1).map((pre) => pre.textContent?.slice(0, 60)),
		);
		expect(cut).toEqual([]);
	});

	it('pastes with Ctrl+V and Ctrl+Shift+V, and sends a literal ^V with Ctrl+Alt+V, as the panel’s help says', async () => {
		await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(gateway.url).origin });
		await page.goto(url('/lab-check/'));
		await runButton(page, 'lab-check:1').click();
		await waitForStatus(page, 'lab-check:1', /✓/);
		await page.evaluate(() => navigator.clipboard.writeText('echo "pasted $((6 * 7))"'));
		await page.locator('#podlab-tabpanel-main .xterm-helper-textarea').focus();
		await page.keyboard.press('Control+V');
		await page.keyboard.press('Enter');
		await waitForTerminal(page, /\npasted 42/);
		await page.evaluate(() => navigator.clipboard.writeText('echo "again $((6 * 7 + 1))"'));
		await page.keyboard.press('Control+Shift+V');
		await page.keyboard.press('Enter');
		await waitForTerminal(page, /\nagain 43/);
		// ^V is readline's quoted-insert: the Tab after it goes in as a character, not as completion.
		await page.keyboard.type('printf "%s" "x');
		await page.keyboard.press('Control+Alt+V');
		await page.keyboard.press('Tab');
		await page.keyboard.type('y" | od -An -c');
		await page.keyboard.press('Enter');
		await waitForTerminal(page, /x +\\t +y/);
		expect(await terminalText(page)).not.toContain('^M');
		expect(await page.locator('#podlab-panel-help').textContent()).toMatch(/Ctrl\+V.*Ctrl\+Shift\+V.*literal Ctrl\+V.*Ctrl\+Alt\+V/s);
	});

	it('draws 鹿乃 with the site’s own CJK font, on the page and in the terminal', async () => {
		await page.goto(url('/chapters/sidecar/'));
		const code = page.locator('.expressive-code .ec-line:visible', { hasText: 'Kano/鹿乃' }).first();
		await code.scrollIntoViewIfNeeded();
		const pageFont = await code.evaluate((element) => getComputedStyle(element.querySelector('.code')!).fontFamily);
		expect(pageFont).toMatch(/^"podlab CJK"/);
		expect(await page.evaluate(async (font) => (await document.fonts.load(`16px ${font}`, '鹿乃')).length, pageFont)).toBe(1);

		await page.getByRole('button', { name: 'Terminal', exact: true }).click();
		// Typed as escapes: a reader's keyboard (and Playwright's) types CJK through an input method.
		await typeCommand(page, "printf 'Kano/\\xe9\\xb9\\xbf\\xe4\\xb9\\x83\\n'");
		await waitForTerminal(page, /\nKano\/鹿乃/);
		// The terminal's font is the page's mono stack (xterm-view.ts), which xterm's elements carry.
		const terminalFont = await page
			.locator('#podlab-tabpanel-main .xterm')
			.evaluate((element) => [element, ...element.querySelectorAll('*')].map((child) => getComputedStyle(child).fontFamily).find((font) => font.includes('podlab CJK')) ?? '');
		expect(await page.evaluate((font) => document.fonts.check(`14px ${font}`, '鹿乃'), terminalFont)).toBe(true);
	});

	it.runIf(name === 'phone')('gives every Run, Copy and panel control a 44×44 px target, and keeps Copy off the code', async () => {
		await page.goto(url('/lab-check/'));
		await runButton(page, 'lab-check:1').click();
		await waitForStatus(page, 'lab-check:1', /✓/);
		const small = async (selector: string) =>
			page.locator(selector).evaluateAll((elements) =>
				elements
					.filter((element) => element.getClientRects().length > 0 && getComputedStyle(element).visibility !== 'hidden')
					.map((element) => element.getBoundingClientRect())
					.filter((box) => box.width < 44 || box.height < 44)
					.map((box) => `${Math.round(box.width)}×${Math.round(box.height)}`),
			);
		expect(await small('.podlab-run-button')).toEqual([]);
		expect(await small('.expressive-code .copy button')).toEqual([]);
		expect(await small('podlab-terminal-panel button')).toEqual([]);
		// Copy sits above the first line of code, never on it.
		const overlaps = await page.locator('.expressive-code figure').evaluateAll((figures) =>
			figures.flatMap((figure) => {
				const copy = figure.querySelector('.copy button')?.getBoundingClientRect();
				const line = figure.querySelector('.ec-line')?.getBoundingClientRect();
				return copy && line && copy.bottom > line.top + 1 ? [figure.querySelector('.ec-line')!.textContent] : [];
			}),
		);
		expect(overlaps).toEqual([]);
	});
});
