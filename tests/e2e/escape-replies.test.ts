/**
 * Output that asks the terminal to answer (title report, clipboard read, DECRQSS) cannot put the
 * attacker's text into the shell's input: what a reader `cat`s cannot type commands for them.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSiteIfStale } from '../../scripts/site-build.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { launchChromium } from './browser.ts';
import { readableTerminals, runButton, typeCommand, waitForStatus, waitForTerminal } from './lab-page.ts';

let browser: Browser;
let gateway: RunningGateway;
const workdir = mkdtempSync(join(tmpdir(), 'podlab-e2e-replies-'));

beforeAll(async () => {
	await buildSiteIfStale();
	browser = await launchChromium();
	gateway = await startGateway({ PODLAB_WORKDIR: workdir });
});

afterAll(async () => {
	await browser?.close();
	await gateway?.stop();
});

describe('terminal replies', () => {
	it('never echo attacker-controlled text into the shell', async () => {
		const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
		await readableTerminals(context);
		const page = await context.newPage();
		await page.goto(`${gateway.url}lab-check/`);
		await runButton(page, 'lab-check:1').click();
		await waitForStatus(page, 'lab-check:1', /✓ exit 0/);

		const marker = join(workdir, 'pwned');
		// A hostile file would hold these bytes: set the title to a command, then ask for it back
		// (CSI 21 t), ask for the clipboard (OSC 52 ?), and ask for a setting with a command in it (DECRQSS).
		// Whatever the terminal answers arrives as input within the two seconds; `read` then takes all of
		// it (without waiting for a newline) before bash could run it.
		await typeCommand(
			page,
			`printf '\\033]0;touch ${marker}\\007\\033[21t\\033]52;c;?\\007\\033P$qm;touch ${marker}\\033\\\\'; sleep 2; read -t 1 -rs -n 4096 reply; printf 'REPLY<%q>\\n' "$reply"`,
		);
		// The printed reply, not the echo of the command (which shows "REPLY<%q>").
		const text = await waitForTerminal(page, /REPLY<(\$'[^>]*'|'')>/);
		const reply = /REPLY<(\$'[^>]*'|'')>/.exec(text)![1]!;
		// Whatever came back (xterm.js answers an unknown DECRQSS with "invalid", ESC P 0 $ r ESC \),
		// none of the attacker's text is in it.
		expect(reply).toMatch(/^(''|\$'\\EP0\$r\\E\\\\')$/);
		expect(reply).not.toContain('touch');
		expect(reply).not.toContain(marker);
		await typeCommand(page, 'echo after-$((40+2))');
		await waitForTerminal(page, /after-42/);
		expect(existsSync(marker)).toBe(false);
		await context.close();
	});
});
