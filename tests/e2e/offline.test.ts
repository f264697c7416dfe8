/**
 * Without a lab: the built site on a plain static host, and the real gateway stopped under an open
 * page. Run must say plainly that no lab is connected and copy the command instead.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import serveStatic from 'serve-static';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildSiteIfStale } from '../../scripts/site-build.ts';
import { startGateway } from '../helpers/gateway.ts';
import { launchChromium } from './browser.ts';
import { readableTerminals, runButton, waitForStatus, waitForTerminal } from './lab-page.ts';

const DIST = fileURLToPath(new URL('../../dist', import.meta.url));

let browser: Browser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
	await buildSiteIfStale();
	browser = await launchChromium();
});

afterAll(async () => {
	await browser?.close();
});

beforeEach(async () => {
	context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
	await readableTerminals(context);
	page = await context.newPage();
});

afterEach(async () => {
	await context?.close();
});

async function clipboard(origin: string): Promise<string> {
	await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
	return page.evaluate(() => navigator.clipboard.readText());
}

describe('on a plain static host', () => {
	let server: Server;
	let origin: string;

	beforeAll(async () => {
		// Any static file server will do; this is the one the gateway uses, without the gateway.
		const files = serveStatic(DIST, { extensions: ['html'] });
		server = createServer((req, res) =>
			files(req, res, () => {
				res.statusCode = 404;
				res.end('not found');
			}),
		);
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	});

	afterAll(async () => {
		await new Promise((resolve) => server?.close(resolve));
	});

	it('serves readable chapters, and Run copies the command instead', async () => {
		const scripts: string[] = [];
		page.on('request', (request) => {
			if (request.resourceType() === 'script') scripts.push(request.url());
		});
		await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
		await page.goto(`${origin}/lab-check/`);
		expect(await page.locator('h1').textContent()).toBe('Check your lab');

		await runButton(page, 'lab-check:1').click();
		expect(await waitForStatus(page, 'lab-check:1', /copied|by hand/)).toBe('Lab offline — command copied');
		expect(await clipboard(origin)).toBe('uname -a');
		// Nothing to talk to, so no terminal was downloaded and no panel opened.
		expect(scripts.some((script) => script.includes('panel-controller'))).toBe(false);
		expect(await page.locator('podlab-terminal-panel').isHidden()).toBe(true);
	});

	it('keeps the first lab tab, shown at once, and no Terminal button: there is no lab to ask', async () => {
		await page.goto(`${origin}/chapters/pause/`);
		const tabs = page.locator('starlight-tabs[data-sync-key="lab"]').first();
		// The tabs wait for the lab only as long as the missing API takes to say so.
		await expect.poll(() => tabs.evaluate((element) => getComputedStyle(element).visibility), { timeout: 2_500 }).toBe('visible');
		expect((await tabs.locator('[role="tab"][aria-selected="true"]').textContent())?.trim()).toBe('kubernetes');
		expect(await page.locator('[data-podlab-launcher]').isHidden()).toBe(true);
	});
});

describe('with the gateway stopped', () => {
	it('says the lab is offline when Run is clicked', async () => {
		const gateway = await startGateway();
		const origin = new URL(gateway.url).origin;
		await page.goto(new URL('/lab-check/', gateway.url).href);
		await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
		await gateway.stop();

		await runButton(page, 'lab-check:5').click();
		expect(await waitForStatus(page, 'lab-check:5', /copied|by hand/)).toBe('Lab offline — command copied');
		expect(await clipboard(origin)).toBe(`sh -c 'echo "this command exits with status 3"; exit 3'`);
	});

	it('tells a reader with the terminal open, and copies later runs', async () => {
		const gateway = await startGateway();
		const origin = new URL(gateway.url).origin;
		await page.goto(new URL('/lab-check/', gateway.url).href);
		await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
		await runButton(page, 'lab-check:1').click();
		await waitForStatus(page, 'lab-check:1', /✓/);
		await waitForTerminal(page, /Linux/);

		await gateway.stop();
		const status = page.locator('[data-panel-status]');
		await expect.poll(() => status.textContent(), { timeout: 15_000 }).toMatch(/^Lab is offline — commands are copied instead\./);
		expect(await page.locator('#podlab-tab-main').getAttribute('data-state')).toBe('offline');

		await runButton(page, 'lab-check:2').click();
		expect(await waitForStatus(page, 'lab-check:2', /copied|by hand/)).toBe('Lab offline — command copied');
		expect(await clipboard(origin)).toBe('id && echo "working directory: $PWD"');
	});
});
