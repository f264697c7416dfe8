/**
 * How the browser tests use a page: click a block's button, read its ✓/✗, read and type into the
 * terminal. The terminal's text is read from xterm's accessibility tree (screen reader mode, which
 * the tests switch on as a reader would): the WebGL renderer draws to a canvas with no text in it.
 */
import { expect } from 'vitest';
import type { Browser, BrowserContext, BrowserContextOptions, Locator, Page } from 'playwright-core';
import { joinClass } from '../helpers/client.ts';
import type { RunningGateway } from '../helpers/gateway.ts';

/** Makes pages of this context start with the panel's screen reader mode on (its saved preference). */
export async function readableTerminals(context: BrowserContext): Promise<void> {
	await context.addInitScript(() => localStorage.setItem('podlab:screen-reader-mode', 'on'));
}

/** A student's browser in class mode: joined through the API, its cookie in a fresh context, terminals readable. */
export async function joinedStudent(browser: Browser, gateway: RunningGateway, name: string, code: string): Promise<{ context: BrowserContext; page: Page; id: string }> {
	const joined = await joinClass(gateway, name, code);
	const [cookieName, value] = joined.cookie!.split('=');
	const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
	await context.addCookies([{ name: cookieName!, value: value!, url: gateway.url, httpOnly: true, sameSite: 'Strict' }]);
	await readableTerminals(context);
	return { context, page: await context.newPage(), id: joined.body.id! };
}

export function runButton(page: Page, block: string): Locator {
	return page.locator(`button[data-podlab-block="${block}"]`);
}

export function blockStatus(page: Page, block: string): Locator {
	return page.locator(`.podlab-run:has(button[data-podlab-block="${block}"]) [data-podlab-status]`);
}

/** The text of a terminal's visible rows. */
export async function terminalText(page: Page, term = 'main'): Promise<string> {
	const tree = page.locator(`#podlab-tabpanel-${term} .xterm-accessibility-tree`);
	if ((await tree.count()) === 0) return '';
	// One list item per row; textContent, because an inactive tab is visibility:hidden (no innerText).
	const rows = await tree.evaluate((element) => [...element.children].map((row) => row.textContent ?? ''));
	return rows.join('\n').replace(/\u00a0/g, ' ');
}

/** Waits until a terminal shows text matching `pattern`. */
export async function waitForTerminal(page: Page, pattern: RegExp, term = 'main', timeout = 15_000): Promise<string> {
	let text = '';
	await expect
		.poll(
			async () => {
				text = await terminalText(page, term);
				return pattern.test(text);
			},
			{ timeout, interval: 100 },
		)
		.toBe(true)
		.catch((error: unknown) => {
			throw new Error(`terminal "${term}" never showed ${pattern}; it shows:\n${text}`, { cause: error });
		});
	return text;
}

/** Like {@link waitForTerminal}, for a line that may wrap on a narrow terminal: the rows are joined as they wrap. */
export async function waitForTerminalUnwrapped(page: Page, pattern: RegExp, term = 'main', timeout = 15_000): Promise<void> {
	let text = '';
	await expect
		.poll(
			async () => {
				text = (await terminalText(page, term)).replace(/\n/g, '');
				return pattern.test(text);
			},
			{ timeout, interval: 100 },
		)
		.toBe(true)
		.catch((error: unknown) => {
			throw new Error(`terminal "${term}" never showed ${pattern}; it shows:\n${text}`, { cause: error });
		});
}

/** Waits for a block's status text. */
export async function waitForStatus(page: Page, block: string, pattern: RegExp, timeout = 15_000): Promise<string> {
	const status = blockStatus(page, block);
	await expect.poll(async () => (await status.textContent()) ?? '', { timeout, interval: 100 }).toMatch(pattern);
	return (await status.textContent()) ?? '';
}

/** Types a command into a terminal, as a reader would, and presses Enter. */
export async function typeCommand(page: Page, command: string, term = 'main'): Promise<void> {
	const tab = page.locator(`#podlab-tab-${term}`);
	await tab.click();
	// Keys typed before the terminal is attached (a panel just opened, a gateway just restarted) go
	// nowhere: wait until its tab says it is connected.
	await expect.poll(() => tab.getAttribute('data-state'), { timeout: 15_000 }).toMatch(/^(connected|busy)$/);
	await page.locator(`#podlab-tabpanel-${term} .xterm-helper-textarea`).focus();
	await page.keyboard.type(command);
	await page.keyboard.press('Enter');
}

/** The two readers the reading-side tests take: a laptop, and a phone (touch, so `pointer: coarse`). */
export const READER_VIEWPORTS = [
	{ name: 'desktop', options: { viewport: { width: 1366, height: 768 } } },
	{ name: 'phone', options: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } },
] as const satisfies ReadonlyArray<{ name: string; options: BrowserContextOptions }>;

/**
 * Every row a terminal printed, as text, read as a second browser tab of the same reader sees it:
 * the gateway replays the terminal's output into a fresh xterm that is tall enough to hold it all
 * (xterm's accessibility tree holds only the rows on screen). Same width, so lines wrap as they did.
 */
export async function replayedTerminalRows(page: Page, term = 'main'): Promise<string[]> {
	const { width } = page.viewportSize()!;
	const tall = await page.context().newPage();
	try {
		await tall.setViewportSize({ width, height: 4000 });
		// The reader's saved panel height, so the terminal has its full size before the replay arrives.
		await tall.goto(page.url());
		await tall.evaluate(() => localStorage.setItem('podlab:panel-height', '3400'));
		await tall.reload();
		await tall.getByRole('button', { name: 'Terminal', exact: true }).click();
		if (term !== 'main') await tall.locator(`#podlab-tab-${term}`).click();
		await expect.poll(async () => (await terminalText(tall, term)).split('\n').length, { timeout: 10_000 }).toBeGreaterThan(100);
		await tall.waitForTimeout(1_000);
		return (await terminalText(tall, term)).split('\n');
	} finally {
		await tall.close();
	}
}
