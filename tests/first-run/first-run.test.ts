/**
 * The first start on a machine with no lab (as `npm run lab:remove` leaves one): the site is served
 * at once, the lab is prepared in the background with its progress on the page, and the first Run
 * works once it is ready. It needs such a machine and makes the lab, so it runs only when asked:
 * CI runs it between `lab:remove` and `lab:setup` (`PODLAB_FIRST_RUN=1 npx vitest run --project first-run`).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { firstStart, startPodlab } from '../../bench/lib/first-run.ts';
import { endpointSettingsFromEnv, loadEndpoint } from '../../lab/incus/endpoint.ts';
import { detectIncusLabs } from '../../lab/incus/status.ts';
import { readSetupState } from '../../lab/lib/setup-state.ts';
import { launchChromium } from '../e2e/browser.ts';

const asked = process.env.PODLAB_FIRST_RUN === '1';
const why = 'runs on a machine with no lab, when PODLAB_FIRST_RUN=1 (CI runs it after lab:remove)';

describe.skipIf(!asked)(`the first start${asked ? '' : ` (skipped: ${why})`}`, () => {
	beforeAll(async () => {
		expect(process.getuid?.(), 'the first start prepares the lab as root').toBe(0);
		const labs = await detectIncusLabs(await loadEndpoint(endpointSettingsFromEnv()));
		expect(labs.available, 'a machine with no lab: run `npm run lab:remove` first').toBe(false);
		expect(await readSetupState(), 'no lab:setup has run since `npm run lab:remove`').toBeNull();
	});

	it('leaves the machine alone with PODLAB_LAB_SETUP=off, and says the one command that makes a lab', async () => {
		const podlab = await startPodlab({ PODLAB_LAB_SETUP: 'off' });
		try {
			expect(podlab.log()).toContain('`sudo npm run lab:setup` makes one');
			const lab = (await (await fetch(`${podlab.url}api/lab`)).json()) as { backend: string; setup?: unknown };
			expect(lab.backend).toBe('local');
			expect(lab.setup ?? null).toBeNull();
			expect(await readSetupState()).toBeNull();
			// The page says it too, where a reader looks first.
			const browser = await launchChromium();
			try {
				const page = await browser.newPage();
				await page.goto(`${podlab.url}lab-check/`);
				await expect.poll(() => page.locator('podlab-lab-setup:not([hidden])').textContent(), { timeout: 10_000 }).toContain('`sudo npm run lab:setup` on it makes one');
			} finally {
				await browser.close();
			}
		} finally {
			await podlab.stop();
		}
	}, 600_000);

	it('serves the site at once, prepares the lab in the background with its progress on the page, and runs the first block once it is ready', async () => {
		const run = await firstStart();
		const seconds = (ms: number) => Math.round(ms / 100) / 10;
		console.info(
			`first start: site up ${seconds(run.siteUpMs)} s, lab ready ${seconds(run.labReadyMs)} s, first Run ✓ ${seconds(run.firstRunMs)} s (the page waited ${seconds(run.pageWaitMs)} s); the page said:\n  ${run.shown.join('\n  ')}`,
		);
		// What it changes on the host, before it changes it.
		expect(run.log).toContain('It changes this host');
		expect(run.log).toMatch(/installs Debian packages: podman, /);
		// The page: the step and the time left on /lab-check/, the same in the panel while the Run waits.
		expect(run.shown).toContainEqual(expect.stringMatching(/^Preparing the lab on this machine \(the first start\): step \d+ of 13, .+ — \d+ (s|min)/));
		expect(run.shown).toContainEqual(expect.stringMatching(/^Preparing the lab \(step \d+ of 13, .+ left\): your command runs as soon as it is ready\.$/));
		expect(run.status).toContain('✓');
		expect(run.terminal).toMatch(/Linux \S+ \d/);
		// The site came first; the lab after it.
		expect(run.siteUpMs).toBeLessThan(run.labReadyMs);
		expect((await readSetupState())?.state).toBe('done');
	}, 1_200_000);
});
