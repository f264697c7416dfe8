/**
 * The docs tests' gateway on the incus backend: started before a file's tests when Incus can make
 * labs here, stopped after them with the labs its readers were given. Without labs it says why and
 * starts nothing (the file's tests skip); under CI or REQUIRE_LAB=1 that is a failure instead.
 */
import { afterAll, beforeAll } from 'vitest';
import { labStateDir, removeLabsOf } from '../doctest/lab-hooks.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { incusLabProblem } from '../lab/incus/incus-required.ts';
import { assertLabUsable, skipReason } from '../lab/lab-required.ts';

/** `skip`: why this file's tests cannot run here, or null; `gateway()`: the running gateway. */
export async function incusDocGateway(what: string): Promise<{ skip: string | null; gateway(): RunningGateway }> {
	const problem = await incusLabProblem();
	const skip = skipReason(problem);
	if (skip) console.info(`skipping ${what}: ${skip}`);
	let gateway: RunningGateway | undefined;
	const stateDir = labStateDir();
	beforeAll(async () => {
		if (skip) return;
		assertLabUsable(problem);
		gateway = await startGateway({ PODLAB_LAB_BACKEND: 'incus', PODLAB_LAB_WARM_LABS: '1', PODLAB_STATE_DIR: stateDir });
	});
	afterAll(async () => {
		await gateway?.stop();
		if (!skip) await removeLabsOf(stateDir);
	}, 120_000);
	return { skip, gateway: () => gateway! };
}
