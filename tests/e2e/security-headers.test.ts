/**
 * The page's own defences in a real browser: every page carries a CSP that allows its own inline
 * scripts by hash and nothing else, the site and the terminal work under it, and an injected
 * script does not run.
 */
import { mkdtempSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSiteIfStale } from '../../scripts/site-build.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { launchChromium } from './browser.ts';
import { readableTerminals, runButton, waitForStatus } from './lab-page.ts';

let browser: Browser;
let gateway: RunningGateway;

beforeAll(async () => {
	await buildSiteIfStale();
	browser = await launchChromium();
	gateway = await startGateway({ PODLAB_WORKDIR: mkdtempSync(join(tmpdir(), 'podlab-e2e-csp-')) });
});

afterAll(async () => {
	await browser?.close();
	await gateway?.stop();
});

describe('security headers', () => {
	it('sends a strict CSP and the other headers on every page', async () => {
		for (const path of ['', 'lab-check/', 'join/', 'chapters/namespaces/']) {
			const response = await fetch(`${gateway.url}${path}`);
			expect(response.status, path).toBe(200);
			const csp = response.headers.get('content-security-policy')!;
			const scriptSrc = csp.split(';').find((directive) => directive.trim().startsWith('script-src'))!;
			expect(scriptSrc).not.toContain('unsafe-inline');
			expect(scriptSrc).toMatch(/'sha256-[A-Za-z0-9+/=]{44}'/);
			expect(csp).toContain("frame-ancestors 'none'");
			expect(csp).toContain("object-src 'none'");
			expect(response.headers.get('x-content-type-options')).toBe('nosniff');
			expect(response.headers.get('referrer-policy')).toBe('same-origin');
			expect(response.headers.get('strict-transport-security')).toBeNull();
			// A revalidation (304) must carry the same policy: browsers keep the headers of a 304.
			// (Not with fetch(): it adds Cache-Control: no-cache to conditional requests.)
			const revalidated = await new Promise<IncomingMessage>((resolve, reject) =>
				get(`${gateway.url}${path}`, { headers: { 'if-none-match': response.headers.get('etag')! } }, resolve).on('error', reject),
			);
			revalidated.resume();
			expect(revalidated.statusCode, path).toBe(304);
			expect(revalidated.headers['content-security-policy']).toBe(csp);
		}
	});

	it('runs the page, the terminal and search without a violation, and blocks an injected script', async () => {
		const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
		await readableTerminals(context);
		await context.addInitScript(() => {
			const seen: string[] = [];
			(window as unknown as { cspViolations: string[] }).cspViolations = seen;
			document.addEventListener('securitypolicyviolation', (event) => seen.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`));
		});
		const page = await context.newPage();
		await page.goto(`${gateway.url}lab-check/`);
		await runButton(page, 'lab-check:1').click();
		await waitForStatus(page, 'lab-check:1', /✓ exit 0/);
		await page.getByRole('button', { name: 'Search' }).first().click();
		await page.locator('.pagefind-ui__search-input').fill('namespace');
		await expect.poll(() => page.locator('.pagefind-ui__result').count(), { timeout: 15_000 }).toBeGreaterThan(0);
		expect(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)).toEqual([]);

		const ran = await page.evaluate(async () => {
			const script = document.createElement('script');
			script.textContent = 'window.injected = true';
			document.body.append(script);
			await new Promise((resolve) => setTimeout(resolve, 100));
			return (window as unknown as { injected?: boolean }).injected ?? false;
		});
		expect(ran).toBe(false);
		expect(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)).toEqual([expect.stringMatching(/^script-src-elem inline /)]);
		await context.close();
	});
});
