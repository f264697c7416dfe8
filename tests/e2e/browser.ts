/**
 * Debian's Chromium, driven by playwright-core. Never a downloaded browser: `.ci/run` installs the
 * `chromium` package, and a machine without it fails here with a message that says so.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.PODLAB_CHROMIUM ?? '/usr/bin/chromium';

/** Flags from DESIGN.md: headless, no sandbox (containers), and no traffic to Google's services. */
export const CHROMIUM_ARGS = [
	'--headless',
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
];

/**
 * Starts Chromium. Playwright gives every launch a fresh temporary profile (user-data dir) and
 * removes it on close; each test then opens its own context (cookies, storage).
 * @throws {Error} naming the Debian package when Chromium is missing — a failure, not a skip.
 */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
	if (!existsSync(CHROMIUM_PATH)) {
		throw new Error(
			`Chromium not found at ${CHROMIUM_PATH}. Browser tests need Debian's "chromium" package: ` +
				'sudo apt-get install chromium (or set PODLAB_CHROMIUM to another Chromium binary).',
		);
	}
	return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, ...extraArgs] });
}
