/**
 * Debian's Chromium for the browser benchmarks: the same binary and flags as the browser tests
 * (tests/e2e/browser.ts), registered for cleanup.
 */
import { existsSync } from 'node:fs';
import type { Browser, BrowserContext } from 'playwright-core';
import { CHROMIUM_PATH, launchChromium } from '../../tests/e2e/browser.ts';
import type { Cleanup } from './cleanup.ts';

export { CHROMIUM_PATH };

/** Why Chromium cannot be used, or null. */
export function browserUnavailable(): string | null {
	return existsSync(CHROMIUM_PATH) ? null : `no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set PODLAB_CHROMIUM)`;
}

export async function launchBrowser(cleanup: Cleanup): Promise<Browser> {
	const browser = await launchChromium();
	cleanup.defer('Chromium', () => browser.close());
	return browser;
}

/** A fresh reader: a new context, with no cookie and an empty cache and storage. */
export function newReader(browser: Browser): Promise<BrowserContext> {
	return browser.newContext({ viewport: { width: 1280, height: 900 } });
}
