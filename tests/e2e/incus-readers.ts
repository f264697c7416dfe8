/**
 * The browser tests' readers of labs of one's own: the built site, one Chromium, gateways on the
 * incus backend each with a state directory of its own, and — after the file's tests — the labs
 * those gateways made, removed (a reader's lab outlives its gateway until its retention).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import type { Labs } from '../../server/backends/incus/labs.ts';
import { buildSiteIfStale } from '../../scripts/site-build.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { incusLabProblem, removeInstancesOf, testLabs } from '../lab/incus/incus-required.ts';
import { skipReason } from '../lab/lab-required.ts';
import { launchChromium } from './browser.ts';

export interface IncusReaders {
	/** Why Incus labs cannot be used here (for `describe.skipIf`), or null. */
	skip: string | null;
	/** What `assertLabUsable` needs: null when labs work. */
	problem: Awaited<ReturnType<typeof incusLabProblem>>;
	browser(): Browser;
	/** A gateway with `env` (the backend is the caller's to choose) and a state directory of its own. */
	gateway(env: Record<string, string>, name: string): Promise<RunningGateway>;
}

/** Registers the file's hooks: the site built, Chromium launched; afterwards gateways stopped and their labs removed. */
export async function incusReaders(): Promise<IncusReaders> {
	const problem = await incusLabProblem();
	const skip = skipReason(problem);
	let labs: Labs | null = null;
	let browser: Browser | undefined;
	const stateDirs: string[] = [];
	const gateways: RunningGateway[] = [];
	beforeAll(async () => {
		await buildSiteIfStale();
		browser = await launchChromium();
		if (skip === null && problem === null) labs = await testLabs();
	}, 120_000);
	afterAll(async () => {
		await browser?.close();
		await Promise.all(gateways.map((gw) => gw.stop()));
		if (!labs) return;
		await removeInstancesOf(labs.api, stateDirs);
		labs.api.close();
	}, 120_000);
	return {
		skip,
		problem,
		browser: () => browser!,
		async gateway(env, name) {
			const stateDir = mkdtempSync(join(tmpdir(), `podlab-e2e-${name}-state-`));
			stateDirs.push(stateDir);
			const started = await startGateway({ PODLAB_STATE_DIR: stateDir, ...env });
			gateways.push(started);
			return started;
		},
	};
}
