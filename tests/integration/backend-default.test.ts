/**
 * PODLAB_LAB_BACKEND's default on a machine prepared for LXC labs: a gateway started without it
 * gives readers labs of their own, and its startup log says so and why.
 */
import { describe, expect, it } from 'vitest';
import { startGateway } from '../helpers/gateway.ts';
import { assertLabUsable, skipReason } from '../lab/lab-required.ts';
import { lxcLabProblem } from '../lab/lxc/lxc-required.ts';

const problem = await lxcLabProblem();
const skip = skipReason(problem);

describe.skipIf(skip !== null)(`the default lab backend${skip ? ` (skipped: ${skip})` : ''}`, () => {
	it('is lxc in local mode where LXC labs are available', async () => {
		assertLabUsable(problem);
		// An empty value is no value: the helper's pinned `local` is taken away. No warm labs: none is needed.
		const gateway = await startGateway({ PODLAB_LAB_BACKEND: '', PODLAB_LXC_WARM_LABS: '0' });
		try {
			const lab = await (await fetch(`${gateway.url}api/lab`)).json();
			expect(lab).toMatchObject({ backend: 'lxc', mode: 'local', keepsShells: true });
			const chosen = gateway.logs().split('\n').find((line) => line.includes('"msg":"lab backend: lxc"'));
			expect(JSON.parse(chosen!)).toMatchObject({
				backend: 'lxc',
				reason: 'PODLAB_LAB_BACKEND=auto and LXC labs are available here: every reader gets a lab of their own',
			});
		} finally {
			await gateway.stop();
		}
	}, 60_000);
});
