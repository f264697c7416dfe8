/**
 * Lab previews in a real Chromium against a gateway on the incus backend (a lab per reader): the
 * sidecar chapter's nginx opened with "Open in browser" shows its page, Kano/鹿乃; a hostile page
 * served by the reader's own lab can neither read the site's cookie nor use it on the site's API or
 * terminal socket; another reader opening the preview's address, or its link once used, is refused.
 * Screenshots of the chapter's block and the preview at desktop and phone sizes, to look at.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/client.ts';
import { assertLabUsable } from '../lab/lab-required.ts';
import { incusReaders } from './incus-readers.ts';
import { readableTerminals, runButton, waitForStatus } from './lab-page.ts';

const readers = await incusReaders();
const { skip, problem } = readers;
const SHOTS = mkdtempSync(join(tmpdir(), 'podlab-preview-shots-'));
/** The sidecar chapter's podman blocks: the pod (kube play) and the page read in the lab on port 8080. */
const PLAY = 'chapters/sidecar:3';
const READ_PAGE = 'chapters/sidecar:22';

/** The site's cookie of the reader in `context` ("podlab_reader=…"). */
async function siteCookie(context: BrowserContext, siteUrl: string): Promise<string> {
	const cookie = (await context.cookies(siteUrl)).find((each) => each.name.startsWith('podlab_'));
	expect(cookie, 'the site gave the reader a cookie').toBeDefined();
	return `${cookie!.name}=${cookie!.value}`;
}

/** Clicks the link and returns the tab it opened, once its page has loaded. */
async function openedTab(page: Page, click: () => Promise<void>): Promise<Page> {
	const [tab] = await Promise.all([page.context().waitForEvent('page'), click()]);
	await tab.waitForLoadState('load');
	return tab;
}

/** A page that tries what a hostile lab app would, and writes what happened into its <pre>. */
function hostilePage(site: string, otherPreview: string): string {
	const script = `(async () => {
	const site = ${JSON.stringify(site.replace(/\/$/, ''))};
	const out = { cookie: document.cookie };
	try { const answer = await fetch(site + '/api/results', { credentials: 'include' }); out.results = 'read ' + answer.status + ' ' + (await answer.text()).slice(0, 80); } catch { out.results = 'blocked'; }
	try { const answer = await fetch(site + '/api/lab/reset', { method: 'POST', credentials: 'include' }); out.reset = 'read ' + answer.status; } catch { out.reset = 'blocked'; }
	out.socket = await new Promise((resolve) => { const socket = new WebSocket(site.replace(/^http/, 'ws') + '/ws'); socket.onopen = () => resolve('open'); socket.onerror = () => resolve('refused'); });
	try { const answer = await fetch(${JSON.stringify(otherPreview)}, { credentials: 'include' }); out.other = 'read ' + answer.status; } catch { out.other = 'blocked'; }
	document.getElementById('out').textContent = JSON.stringify(out);
})();`;
	return `<!doctype html><title>hostile</title><pre id="out">running</pre><script>${script}</script>`;
}

describe.skipIf(skip !== null)(`lab previews, on the incus backend${skip ? ` (skipped: ${skip})` : ''}`, () => {
	it('opens the sidecar’s nginx page from its block, for its reader only; a hostile lab page gets nothing of the site', async () => {
		assertLabUsable(problem);
		const gw = await readers.gateway({ PODLAB_LAB_BACKEND: 'incus', PODLAB_LAB_WARM_LABS: '2' }, 'preview');
		expect(gw.previews).toMatch(/^http:\/\/\*\.localhost:\d+$/);
		const context = await readers.browser().newContext({ viewport: { width: 1366, height: 768 } });
		await readableTerminals(context);
		const page = await context.newPage();
		await page.goto(`${gw.url}chapters/sidecar/`);
		await page.getByRole('tab', { name: 'podman' }).first().click();
		for (const block of [PLAY, READ_PAGE]) {
			await runButton(page, block).scrollIntoViewIfNeeded();
			await runButton(page, block).click();
			expect(await waitForStatus(page, block, /✓|✗|offline|lost/, 120_000), block).toMatch(/^✓/);
		}
		const link = page.locator(`.podlab-run:has(button[data-podlab-block="${READ_PAGE}"]) a.podlab-open-link`);
		expect(await link.getAttribute('href')).toBe('/api/preview?port=8080');
		await link.scrollIntoViewIfNeeded();
		await page.screenshot({ path: join(SHOTS, 'sidecar-open-in-browser-desktop.png') });
		await page.setViewportSize({ width: 390, height: 844 });
		await link.scrollIntoViewIfNeeded();
		expect(await link.isVisible()).toBe(true);
		await page.screenshot({ path: join(SHOTS, 'sidecar-open-in-browser-phone.png') });
		await page.setViewportSize({ width: 1366, height: 768 });

		const preview = await openedTab(page, () => link.click());
		const previewUrl = new URL(preview.url());
		expect(previewUrl.origin, `${preview.url()}: ${await preview.locator("body").innerText()}`).toMatch(/^http:\/\/p[0-9a-f]{24}\.localhost:\d+$/);
		expect(previewUrl.pathname).toBe('/');
		expect(await preview.title()).toBe('Kano');
		expect(await preview.locator('body').textContent()).toBe('Kano/鹿乃');
		await preview.screenshot({ path: join(SHOTS, 'sidecar-preview-desktop.png') });
		await preview.setViewportSize({ width: 390, height: 844 });
		await preview.screenshot({ path: join(SHOTS, 'sidecar-preview-phone.png') });

		// Another reader, in a browser of their own: the preview's address, or its way in once used, opens nothing.
		const other = await readers.browser().newContext({ viewport: { width: 390, height: 844 } });
		const otherPage = await other.newPage();
		const refused = await otherPage.goto(previewUrl.href);
		expect(refused?.status()).toBe(403);
		expect(await otherPage.locator('h1').textContent()).toBe('Open this preview from the tutorial');
		// Their own preview of port 8080 is another origin, and their lab has nothing there.
		await otherPage.goto(`${gw.url}lab-check/`);
		const theirs = await otherPage.goto(`${gw.url}api/preview?port=8080`);
		expect(theirs?.status()).toBe(403);

		// A hostile page in the reader's own lab, on another port, opened like any other.
		const cookie = await siteCookie(context, gw.url);
		const labShell = await TestClient.connect(gw, { cookie, term: 'setup', readyTimeoutMs: 30_000 });
		const html = Buffer.from(hostilePage(gw.url, previewUrl.origin)).toString('base64');
		const served = await labShell.run(`mkdir -p /srv/hostile && echo ${html} | base64 -d > /srv/hostile/index.html && busybox httpd -p 127.0.0.1:8090 -h /srv/hostile && echo served`, 'hostile', 30_000);
		expect(served.exit).toBe(0);
		const hostile = await openedTab(page, () => page.evaluate(() => void window.open('/api/preview?port=8090', '_blank')));
		expect(new URL(hostile.url()).origin).not.toBe(previewUrl.origin);
		await expect.poll(() => hostile.locator('#out').textContent(), { timeout: 15_000 }).not.toBe('running');
		const outcome = JSON.parse((await hostile.locator('#out').textContent())!) as Record<string, string>;
		expect(outcome).toEqual({ cookie: '', results: 'blocked', reset: 'blocked', socket: 'refused', other: 'blocked' });
		// The reset never reached the gateway (CORS hides the answer, not the request: the cookie stayed home).
		expect(gw.logs()).not.toMatch(/"msg":"(incus )?lab reset"/);
		const stillThere = await labShell.run('test -f /srv/hostile/index.html && echo kept', 'kept', 10_000);
		expect(stillThere.exit).toBe(0);
		labShell.close();
		await other.close();
		await context.close();
	}, 300_000);
});
