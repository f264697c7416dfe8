/**
 * The first start of podlab on a machine with no lab, driven as a newcomer meets it: `npm start`
 * (scripts/start.ts) as root, /lab-check/ in Chromium while the lab is prepared in the background,
 * Run on its first block, and that block's ✓. What the page said meanwhile is kept, with the times.
 * Shared by the first-run test (what must hold) and `npm run bench:first-run` (the figures).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { launchChromium } from '../../tests/e2e/browser.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface FirstStart {
	/** `npm start` → the gateway listens (a site build, when dist/ is stale, included). */
	siteUpMs: number;
	/** `npm start` → `GET /api/lab` says the setup is done. */
	labReadyMs: number;
	/** `npm start` → the first block's ✓ on /lab-check/. */
	firstRunMs: number;
	/** The Run's click → its ✓: how long the page waited. */
	pageWaitMs: number;
	/** The block's status at the end (✓, or what it said instead). */
	status: string;
	/** What the page said, in order, each text once: /lab-check/'s setup box and the panel's status line. */
	shown: string[];
	/** The terminal's rows at the end. */
	terminal: string;
	/** Everything `npm start` logged. */
	log: string;
}

/** Starts `scripts/start.ts` of the checkout at `root` with `env` on a free port; resolves once it listens. */
export async function startPodlab(env: Record<string, string | undefined>, root = ROOT): Promise<{ url: string; child: ChildProcess; log: () => string; stop: () => Promise<void> }> {
	const home = mkdtempSync(join(tmpdir(), 'podlab-first-start-'));
	writeFileSync(join(home, '.bashrc'), '# a reader’s ~/.bashrc\n');
	const child = spawn(join(root, 'node_modules/.bin/node'), ['scripts/start.ts'], {
		cwd: root,
		env: { ...process.env, PODLAB_LAB_BACKEND: undefined, PODLAB_LAB_SETUP: undefined, HOME: home, HOST: '127.0.0.1', PORT: '0', PODLAB_LOG_LEVEL: 'info', ...env },
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	let output = '';
	child.stdout!.on('data', (chunk) => (output += chunk));
	child.stderr!.on('data', (chunk) => (output += chunk));
	const url = await new Promise<string>((resolve, reject) => {
		// A site build on a 2-core machine, next to apt and debootstrap, takes minutes.
		const timer = setTimeout(() => reject(new Error(`npm start did not listen within 10 min:\n${output}`)), 600_000);
		const look = () => {
			const line = output.split('\n').find((each) => each.includes('"msg":"listening"'));
			if (!line) return;
			clearTimeout(timer);
			child.stdout!.off('data', look);
			resolve(JSON.parse(line).url);
		};
		child.stdout!.on('data', look);
		child.once('exit', (code) => {
			clearTimeout(timer);
			reject(new Error(`npm start exited with ${code} before listening:\n${output}`));
		});
	});
	return {
		url,
		child,
		log: () => output,
		async stop() {
			if (child.exitCode !== null || child.signalCode !== null) return;
			child.kill('SIGTERM');
			await once(child, 'exit');
		},
	};
}

export interface FirstStartOptions {
	/** The checkout to start (default: this one). */
	root?: string;
	/** Bounds the wait for the ✓. */
	timeoutMs?: number;
	/** Where to save what a reader sees while the lab is prepared: /lab-check/ at desktop and phone sizes. */
	screenshots?: string;
}

/** The whole first start. Leaves podlab stopped, the lab prepared. */
export async function firstStart(options: FirstStartOptions = {}): Promise<FirstStart> {
	const timeoutMs = options.timeoutMs ?? 15 * 60_000;
	const started = performance.now();
	const podlab = await startPodlab({}, options.root);
	const siteUpMs = performance.now() - started;
	const browser = await launchChromium();
	try {
		const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
		// The terminal's rows as text (xterm's accessibility tree), as the browser tests read them.
		await context.addInitScript(() => localStorage.setItem('podlab:screen-reader-mode', 'on'));
		const page = await context.newPage();
		await page.goto(`${podlab.url}lab-check/`);
		const box = page.locator('podlab-lab-setup [data-lab-setup-text]');
		const panelStatus = page.locator('[data-panel-status]');
		const shown: string[] = [];
		const note = async () => {
			for (const text of [await box.textContent().catch(() => ''), await panelStatus.textContent().catch(() => '')]) {
				// The times change every second: one text per step is enough to keep.
				const key = text?.replace(/ — .*$/, '') ?? '';
				if (text && !shown.some((each) => each.replace(/ — .*$/, '') === key)) shown.push(text);
			}
		};
		await page.locator('podlab-lab-setup:not([hidden])').waitFor({ timeout: 30_000 });
		await note();
		const button = page.locator('button[data-podlab-block]').first();
		const block = (await button.getAttribute('data-podlab-block'))!;
		const status = page.locator(`.podlab-run:has(button[data-podlab-block="${block}"]) [data-podlab-status]`);
		const clicked = performance.now();
		await button.click();
		if (options.screenshots) await screenshots(page, options.screenshots);
		let labReadyMs = Number.NaN;
		let last = '';
		while (performance.now() - clicked < timeoutMs) {
			await note();
			last = (await status.textContent()) ?? '';
			if (/✓|✗/.test(last)) break;
			if (Number.isNaN(labReadyMs)) {
				const lab = (await fetch(`${podlab.url}api/lab`).then((response) => response.json()).catch(() => null)) as { setup?: { state?: string } } | null;
				if (lab?.setup?.state === 'done') labReadyMs = performance.now() - started;
			}
			await page.waitForTimeout(500);
		}
		const done = performance.now();
		// The ✓ comes with the output; the terminal draws it a moment later.
		const rows = page.locator('#podlab-tabpanel-main .xterm-accessibility-tree');
		const text = () => rows.evaluate((tree) => [...tree.children].map((row) => row.textContent ?? '').join('\n')).catch(() => '');
		let terminal = await text();
		for (let wait = 0; wait < 50 && terminal.split('\n').filter((row) => row.trim()).length < 2; wait++) {
			await page.waitForTimeout(100);
			terminal = await text();
		}
		return { siteUpMs, labReadyMs, firstRunMs: done - started, pageWaitMs: done - clicked, status: last, shown, terminal, log: podlab.log() };
	} finally {
		await browser.close();
		await podlab.stop();
	}
}

/** /lab-check/ while the lab is prepared: the desktop page with the panel waiting, and a phone's page. */
async function screenshots(page: Page, dir: string): Promise<void> {
	await page.locator('[data-panel-status]', { hasText: 'Your command runs as soon as it is ready' }).waitFor({ timeout: 30_000 });
	await page.screenshot({ path: join(dir, 'first-start-desktop.png') });
	const phone = await page.context().browser()!.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
	const small = await phone.newPage();
	await small.goto(page.url());
	await small.locator('podlab-lab-setup:not([hidden])').waitFor({ timeout: 30_000 });
	await small.screenshot({ path: join(dir, 'first-start-phone.png') });
	await phone.close();
}
