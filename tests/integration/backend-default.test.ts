/**
 * PODLAB_LAB_BACKEND's default on a machine prepared for labs of one's own: a gateway started without
 * it gives readers labs of their own, and its startup log says so and why.
 */
import { describe, expect, it } from 'vitest';
import { startGateway } from '../helpers/gateway.ts';
import { assertLabUsable, skipReason } from '../lab/lab-required.ts';
import { incusLabProblem, localApi, removeInstancesOf } from '../lab/incus/incus-required.ts';
import { labStateDir } from '../doctest/lab-hooks.ts';

const problem = await incusLabProblem();
const skip = skipReason(problem);

describe.skipIf(skip !== null)(`the default lab backend${skip ? ` (skipped: ${skip})` : ''}`, () => {
	it('is incus in local mode where Incus can make labs', async () => {
		assertLabUsable(problem);
		// An empty value is no value: the helper's pinned `local` is taken away. No warm labs: none is needed.
		const stateDir = labStateDir();
		const gateway = await startGateway({ PODLAB_LAB_BACKEND: '', PODLAB_LAB_WARM_LABS: '0', PODLAB_STATE_DIR: stateDir });
		try {
			const lab = await (await fetch(`${gateway.url}api/lab`)).json();
			expect(lab).toMatchObject({ backend: 'incus', mode: 'local', keepsShells: true, labsAvailable: true });
			expect(lab.lab.incus).toMatchObject({ available: true, reachable: true, image: 'current' });
			const chosen = gateway.logs().split('\n').find((line) => line.includes('"msg":"lab backend: incus"'));
			expect(JSON.parse(chosen!)).toMatchObject({
				backend: 'incus',
				reason: 'PODLAB_LAB_BACKEND=auto and Incus can make labs: every reader gets a lab of their own',
			});
		} finally {
			await gateway.stop();
			const api = localApi();
			await removeInstancesOf(api, [stateDir]);
			api.close();
		}
	}, 60_000);
});
