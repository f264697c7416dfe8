/**
 * The reading side in a real browser against the real gateway and the built site: Run buttons,
 * the docked terminal, one shell across pages and reloads, named terminals, Write to lab, busy
 * terminals, floods, ended sessions, themes, and how much a page loads before the first Run.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { buildSiteIfStale } from '../../scripts/site-build.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { launchChromium } from './browser.ts';
import {
	blockStatus,
	readableTerminals,
	runButton,
	terminalText,
	typeCommand,
	waitForStatus,
	waitForTerminal,
} from './lab-page.ts';

/** The README's screenshot. Rewritten when missing or with PODLAB_UPDATE_SCREENSHOTS=1: it differs on every run. */
const SCREENSHOT = fileURLToPath(new URL('./screenshots/chapter-with-terminal.png', import.meta.url));

let gateway: RunningGateway;
let browser: Browser;
let workdir: string;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
	await buildSiteIfStale();
	// The lab's working directory, where "Write to lab" puts files: a scratch one, not $HOME.
	workdir = mkdtempSync(join(tmpdir(), 'podlab-e2e-'));
	gateway = await startGateway({ PODLAB_WORKDIR: workdir });
	browser = await launchChromium();
});

afterAll(async () => {
	await browser?.close();
	await gateway?.stop();
	if (workdir) rmSync(workdir, { recursive: true, force: true });
});

/** Every test is a new reader: a fresh context has no cookie, no storage, no terminal. */
beforeEach(async () => {
	context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'dark' });
	await readableTerminals(context);
	page = await context.newPage();
});

afterEach(async () => {
	await context?.close();
});

const url = (path: string) => new URL(path, gateway.url).href;

describe('Run on /lab-check/', () => {
	it('opens the terminal, shows real output and ✓ on the block', async () => {
		await page.goto(url('/lab-check/'));
		const panel = page.locator('podlab-terminal-panel');
		await expect.poll(() => panel.isHidden()).toBe(true);
		await runButton(page, 'lab-check:1').click();
		expect(await waitForStatus(page, 'lab-check:1', /✓|✗/)).toBe('✓ exit 0');
		expect(await panel.isVisible()).toBe(true);
		await waitForTerminal(page, /uname -a[\s\S]*Linux/);
		expect(await page.locator('[data-panel-status]').textContent()).toMatch(/^Connected to the (\w+ )?lab\.$/);
	});

	it('marks a block that exits non-zero with ✗ and its status', async () => {
		await page.goto(url('/lab-check/'));
		await runButton(page, 'lab-check:5').click();
		expect(await waitForStatus(page, 'lab-check:5', /✓|✗/)).toBe('✗ exit 3');
		await waitForTerminal(page, /this command exits with status 3/);
	});

	it('runs from the keyboard, keeps focus on the button, and labels it for screen readers', async () => {
		await page.goto(url('/lab-check/'));
		const button = runButton(page, 'lab-check:2');
		expect(await button.getAttribute('type')).toBe('button');
		expect((await button.textContent())?.trim()).toBe('Run in terminal main');
		await button.focus();
		await page.keyboard.press('Enter');
		expect(await waitForStatus(page, 'lab-check:2', /✓|✗/)).toBe('✓ exit 0');
		expect(await button.evaluate((element) => element === document.activeElement)).toBe(true);
		expect(await blockStatus(page, 'lab-check:2').getAttribute('role')).toBe('status');
	});
});

describe('one shell per reader', () => {
	it('keeps exported variables across pages, with earlier output replayed', async () => {
		await page.goto(url('/lab-check/'));
		await runButton(page, 'lab-check:1').click();
		await waitForStatus(page, 'lab-check:1', /✓/);
		await typeCommand(page, 'export X=42');
		await waitForTerminal(page, /export X=42\n.+[#$]/);

		await page.getByRole('link', { name: 'Namespaces, what a pod shares' }).first().click();
		await page.waitForURL('**/chapters/namespaces/');
		// The panel was open: it comes back by itself and replays what the shell printed.
		await waitForTerminal(page, /uname -a[\s\S]*export X=42/);
		await typeCommand(page, 'echo "X is $X"');
		await waitForTerminal(page, /X is 42/);
	});

	it('keeps the shell across a reload', async () => {
		await page.goto(url('/lab-check/'));
		await runButton(page, 'lab-check:1').click();
		await waitForStatus(page, 'lab-check:1', /✓/);
		await typeCommand(page, 'echo "shell pid $$"');
		const before = (await waitForTerminal(page, /shell pid \d+/)).match(/shell pid (\d+)/)![1];

		await page.reload();
		await waitForTerminal(page, /shell pid \d+/);
		await typeCommand(page, 'echo "after reload $$"');
		const after = (await waitForTerminal(page, /after reload \d+/)).match(/after reload (\d+)/)![1];
		expect(after).toBe(before);
	});
});

describe('named terminals and files', () => {
	it('opens a block with term="logs" in a second tab', async () => {
		await page.goto(url('/lab-check/'));
		await runButton(page, 'lab-check:6').click();
		await waitForStatus(page, 'lab-check:6', /✓/);
		await runButton(page, 'lab-check:7').click();
		expect(await waitForStatus(page, 'lab-check:7', /✓|✗/)).toBe('✓ exit 0');

		const tabs = page.getByRole('tab');
		expect(await tabs.allInnerTexts()).toEqual([expect.stringContaining('main'), expect.stringContaining('logs')]);
		expect(await page.locator('#podlab-tab-logs').getAttribute('aria-selected')).toBe('true');
		const logs = await waitForTerminal(page, /this is the terminal "logs" on (\/dev\/\S+)/, 'logs');
		const main = await terminalText(page, 'main');
		// Two shells, two ptys.
		const logsTty = logs.match(/on (\/dev\/\S+)/)![1]!;
		expect(main).toMatch(/\/dev\/pts\/\d+/);
		expect(main).not.toContain(logsTty);
	});

	it('creates the file with "Write to lab"', async () => {
		await page.goto(url('/lab-check/'));
		const write = runButton(page, 'lab-check:8');
		expect((await write.textContent())?.trim()).toBe('Write to lab as podlab-check.c (terminal main)');
		await write.click();
		expect(await waitForStatus(page, 'lab-check:8', /✓|✗/)).toBe('✓ exit 0');
		const file = join(workdir, 'podlab-check.c');
		expect(existsSync(file)).toBe(true);
		expect(readFileSync(file, 'utf8')).toBe(
			'#include <stdio.h>\n\nint main(void) {\n    printf("the lab compiles and runs C\\n");\n    return 0;\n}\n',
		);
		await waitForTerminal(page, /podlab-check\.c/);
	});
});

describe('a busy terminal', () => {
	it('offers "Interrupt and run", then runs the block and returns focus to it', async () => {
		await page.goto(url('/lab-check/'));
		await runButton(page, 'lab-check:1').click();
		await waitForStatus(page, 'lab-check:1', /✓/);
		await typeCommand(page, 'sleep 300');
		await expect.poll(() => page.locator('#podlab-tab-main').getAttribute('data-state')).toBe('busy');

		const button = runButton(page, 'lab-check:2');
		await button.click();
		const interrupt = page.getByRole('button', { name: 'Interrupt and run' });
		await expect.poll(() => interrupt.isVisible()).toBe(true);
		expect(await blockStatus(page, 'lab-check:2').textContent()).toBe('Terminal busy');
		expect(await interrupt.evaluate((element) => element === document.activeElement)).toBe(true);

		await interrupt.click();
		expect(await waitForStatus(page, 'lab-check:2', /✓|✗/)).toBe('✓ exit 0');
		expect(await button.evaluate((element) => element === document.activeElement)).toBe(true);
		expect(await interrupt.isVisible()).toBe(false);
	});

	it('stays responsive under a flood of output, and Ctrl-C stops it', async () => {
		// Headless Chromium emulates WebGL on the CPU (SwiftShader), where xterm's WebGL renderer is ten
		// times slower than its DOM renderer: the flood must not switch to it.
		const webglChunks: string[] = [];
		page.on('request', (request) => {
			if (/addon-webgl/.test(request.url())) webglChunks.push(request.url());
		});
		const notes: string[] = [];
		page.on('console', (message) => notes.push(message.text()));
		await page.goto(url('/lab-check/'));
		await runButton(page, 'lab-check:1').click();
		await waitForStatus(page, 'lab-check:1', /✓/);
		await typeCommand(page, 'yes podlab-flood');
		await waitForTerminal(page, /podlab-flood\s*\n.*podlab-flood/);
		await page.waitForTimeout(2_000);

		// The page answers promptly while the flood goes on.
		const started = Date.now();
		await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(resolve)));
		expect(Date.now() - started).toBeLessThan(1_000);
		// Chromium says SwiftShader today; a later one may refuse such a context outright: both say why.
		expect(notes.some((note) => /^\[podlab\] .+: the DOM renderer draws the terminal$/.test(note)), notes.join('\n')).toBe(true);
		expect(webglChunks).toEqual([]);
		expect(await page.locator('#podlab-tabpanel-main .xterm-rows').textContent()).toContain('podlab-flood');

		await page.keyboard.press('Control+C');
		await typeCommand(page, 'echo "flood over: $((40 + 2))"');
		await waitForTerminal(page, /flood over: 42/, 'main', 20_000);
	});
});

describe('an ended session', () => {
	it('says the session ended and starts a new shell on request', async () => {
		await page.goto(url('/lab-check/'));
		await runButton(page, 'lab-check:1').click();
		await waitForStatus(page, 'lab-check:1', /✓/);
		await typeCommand(page, 'exit 7');
		const status = page.locator('[data-panel-status]');
		await expect.poll(() => status.textContent()).toBe('Session ended: the shell in “main” exited with status 7.');

		await runButton(page, 'lab-check:2').click();
		expect(await waitForStatus(page, 'lab-check:2', /./)).toBe('Session ended — start a new shell');

		await page.getByRole('button', { name: 'Start a new shell' }).click();
		await expect.poll(() => status.textContent()).toMatch(/^Connected/);
		await runButton(page, 'lab-check:2').click();
		expect(await waitForStatus(page, 'lab-check:2', /✓|✗/)).toBe('✓ exit 0');
	});
});

describe('the panel', () => {
	it('follows the site theme', async () => {
		await page.goto(url('/lab-check/'));
		await runButton(page, 'lab-check:1').click();
		await waitForStatus(page, 'lab-check:1', /✓/);
		const background = () =>
			page.locator('#podlab-tabpanel-main .xterm-scrollable-element').evaluate((element) => getComputedStyle(element).backgroundColor);
		expect(await background()).toBe('rgb(23, 25, 28)');
		await page.locator('starlight-theme-select select').first().selectOption('light');
		await expect.poll(background).toBe('rgb(255, 255, 255)');
	});

	it('closes, keeps the shell, and reopens on the next Run', async () => {
		await page.goto(url('/lab-check/'));
		await runButton(page, 'lab-check:1').click();
		await waitForStatus(page, 'lab-check:1', /✓/);
		await typeCommand(page, 'cd /tmp && echo "now in $PWD"');
		await waitForTerminal(page, /now in \/tmp/);

		await page.getByRole('button', { name: 'Close the terminal panel' }).click();
		expect(await page.locator('podlab-terminal-panel').isHidden()).toBe(true);
		// The close button had focus; it goes back to the block that was run.
		expect(await runButton(page, 'lab-check:1').evaluate((element) => element === document.activeElement)).toBe(true);

		await page.reload();
		expect(await page.locator('podlab-terminal-panel').isHidden()).toBe(true);
		await runButton(page, 'lab-check:2').click();
		await waitForStatus(page, 'lab-check:2', /✓/);
		await waitForTerminal(page, /working directory: \/tmp/);
	});

	it('resizes from the keyboard', async () => {
		await page.goto(url('/lab-check/'));
		await runButton(page, 'lab-check:1').click();
		await waitForStatus(page, 'lab-check:1', /✓/);
		const panel = page.locator('podlab-terminal-panel');
		const height = async () => (await panel.boundingBox())!.height;
		const before = await height();
		await page.getByRole('separator', { name: 'Resize the terminal panel' }).focus();
		await page.keyboard.press('ArrowUp');
		await page.keyboard.press('ArrowUp');
		expect(await height()).toBe(before + 80);
		await page.keyboard.press('Home');
		expect(await height()).toBe(140);
		// The page keeps room under it for the panel, and scrolls blocks above it, at the panel's height.
		const room = () =>
			page.evaluate(() => [getComputedStyle(document.querySelector('.main-frame')!).paddingBottom, getComputedStyle(document.documentElement).scrollPaddingBottom]);
		expect(await room()).toEqual(['140px', '152px']);
		await page.getByRole('button', { name: 'Close the terminal panel' }).click();
		expect(await room()).toEqual(['0px', 'auto']);
	});

	it('is shown in a screenshot of a chapter for the README', async () => {
		await page.close();
		// A reader's view: no screen reader mode, the terminal drawn as usual.
		const plain = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'dark' });
		try {
			const view = await plain.newPage();
			await view.goto(url('/chapters/namespaces/'));
			await runButton(view, 'chapters/namespaces:1').click();
			await waitForStatus(view, 'chapters/namespaces:1', /✓/);
			await runButton(view, 'chapters/namespaces:2').click();
			await waitForStatus(view, 'chapters/namespaces:2', /✓/);
			await view.locator('h2#sharing-a-child-process').scrollIntoViewIfNeeded();
			// No hover effect on the last button clicked.
			await view.mouse.move(640, 300);
			const image = await view.screenshot();
			expect(image.length).toBeGreaterThan(10_000);
			if (!existsSync(SCREENSHOT) || process.env.PODLAB_UPDATE_SCREENSHOTS === '1') {
				mkdirSync(dirname(SCREENSHOT), { recursive: true });
				writeFileSync(SCREENSHOT, image);
			}
		} finally {
			await plain.close();
		}
	});
});

describe('the first Run', () => {
	it('shows its output without waiting for an optional addon, which loads only once it earns its place', async () => {
		// The optional addons' chunks (Vite names them after the packages) are held, never answered:
		// a first output that waited for one would never come.
		const held: string[] = [];
		await page.route(/\/_astro\/addon-web(gl|-links)[^/]*\.js$/, (route) => {
			held.push(new URL(route.request().url()).pathname);
		});
		await page.goto(url('/lab-check/'));
		await runButton(page, 'lab-check:1').click();
		await waitForTerminal(page, /uname -a[\s\S]*Linux/);
		expect(held).toEqual([]);
		// Usable as it is: typed into, answered, with the DOM renderer.
		await typeCommand(page, 'echo "usable $((6 * 7))"');
		await waitForTerminal(page, /usable 42/);
		expect(held).toEqual([]);

		// The check can fail: a pointer over the terminal asks for the links addon (held above).
		await page.locator('#podlab-tabpanel-main .xterm-screen').hover();
		await expect.poll(() => held.join(' ')).toMatch(/addon-web-links/);
		await typeCommand(page, 'echo "still usable"');
		await waitForTerminal(page, /\nstill usable/);
	});
});

describe('a first Run whose terminal cannot be downloaded', () => {
	it('says so, copies the command instead, and runs it after a reload', async () => {
		// Once the page is in, no more of its scripts arrive: the terminal's code, whatever its files are called.
		await page.goto(url('/lab-check/'), { waitUntil: 'networkidle' });
		const noScripts = '**/*';
		await page.route(noScripts, (route) => (route.request().resourceType() === 'script' ? route.abort('connectionfailed') : route.continue()));
		await runButton(page, 'lab-check:1').click();
		expect(await waitForStatus(page, 'lab-check:1', /failed to load/)).toMatch(/^Terminal failed to load \(reload the page\) — (command copied|copy it by hand)$/);
		expect(await page.locator('podlab-terminal-panel').isHidden()).toBe(true);
		// Again on the same page: the same answer, not a Run that waits for ever.
		await runButton(page, 'lab-check:1').click();
		expect(await waitForStatus(page, 'lab-check:1', /failed to load/)).toMatch(/^Terminal failed to load/);

		await page.unroute(noScripts);
		await page.reload();
		await runButton(page, 'lab-check:1').click();
		await waitForTerminal(page, /uname -a[\s\S]*Linux/);
	});
});

describe('before the first Run', () => {
	it('loads no terminal code, and little JavaScript', async () => {
		const scripts = new Map<string, string>();
		// A body that can no longer be read (the page went on, or closed, after this test) is not counted.
		const onResponse = (response: Response) => {
			if (response.request().resourceType() !== 'script') return;
			response.text().then(
				(text) => scripts.set(new URL(response.url()).pathname, text),
				() => {},
			);
		};
		page.on('response', onResponse);
		onTestFinished(() => {
			page.off('response', onResponse);
		});
		await page.goto(url('/chapters/namespaces/'), { waitUntil: 'networkidle' });
		const hasXterm = () => [...scripts.values()].some((source) => source.includes('xterm-helper-textarea'));
		expect(hasXterm()).toBe(false);

		// Starlight fetches its search UI (Pagefind, ~92 KiB) when the page is idle, so that search opens
		// at once; that one is Starlight's choice and is counted apart from the page's own scripts.
		const isPagefindUi = (source: string) => source.includes('pagefind-ui__');
		const bytes = (sources: string[]) => sources.reduce((total, source) => total + Buffer.byteLength(source), 0);
		const sources = [...scripts.values()];
		expect(bytes(sources.filter((source) => !isPagefindUi(source)))).toBeLessThan(60 * 1024);

		// The check can fail: the first Run does load xterm.
		await runButton(page, 'chapters/namespaces:1').click();
		await waitForStatus(page, 'chapters/namespaces:1', /✓/);
		expect(hasXterm()).toBe(true);
	});
});
