/**
 * When the tests of labs of one's own run: as root, on a host prepared by `npm run lab:setup`
 * (Incus with podlab's project, pool, profiles and image). Like the podman lab tests they skip with
 * a reason elsewhere, and fail under CI=true or REQUIRE_LAB=1. Also the tests' own view of the labs:
 * a `Labs` of a test gateway identity, which sees every gateway's labs in the project.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPreparedEngine } from '../../../lab/incus/daemon.ts';
import { IncusApi } from '../../../lab/incus/incus-api.ts';
import { removeInstance } from '../../../lab/incus/instances.ts';
import { DEFAULT_LAB_LIMITS, type LabLimits } from '../../../lab/incus/lab-profile.ts';
import { LOCAL_SOCKET, PROJECT } from '../../../lab/incus/names.ts';
import { detectIncusLabs } from '../../../lab/incus/status.ts';
import { loadGatewayIdentity } from '../../../server/backends/incus/gateway-identity.ts';
import { Labs } from '../../../server/backends/incus/labs.ts';
import { isRoot } from '../lab-required.ts';

export async function incusLabProblem(): Promise<string | null> {
	if (!isRoot) return 'needs root (Incus\u2019s socket, and the host-side checks of the labs)';
	await startPreparedEngine().catch(() => null);
	const status = await detectIncusLabs({ socketPath: LOCAL_SOCKET });
	if (!status.available) return `labs of one's own are not available here (missing ${status.missing.join('; ')}); run \`npm run lab:setup\` as root`;
	return null;
}

/** The Incus API of this machine's daemon, in podlab's project. */
export function localApi(project = PROJECT): IncusApi {
	return new IncusApi({ socketPath: LOCAL_SOCKET }, project);
}

/** Labs made by a gateway identity of the test's own (in a state directory of its own). */
export async function testLabs(limits: LabLimits = DEFAULT_LAB_LIMITS, api = localApi()): Promise<Labs> {
	const identity = await loadGatewayIdentity(mkdtempSync(join(tmpdir(), 'podlab-test-gateway-')));
	return new Labs(api, identity, limits);
}

/** Makes a lab and starts it; resolves once it has booted (podlab's init is done). */
export async function startedLab(labs: Labs): Promise<string> {
	const lab = await labs.create();
	await labs.start(lab.name);
	const booted = await labs.run(lab.name, ['sh', '-c', 'for i in $(seq 300); do [ -e /run/podlab-ready ] && exit 0; sleep 0.05; done; exit 1'], { timeoutMs: 20_000 });
	if (booted.code !== 0) throw new Error(`${lab.name} did not boot: ${booted.stderr}`);
	return lab.name;
}

/** Removes every instance (labs, kernel-log readers) made by the gateways whose state directories are `stateDirs`. */
export async function removeInstancesOf(api: IncusApi, stateDirs: readonly string[]): Promise<string[]> {
	const instances = await api.get<Array<{ name: string; config: Record<string, string> }>>('/1.0/instances', { query: { recursion: '1' } });
	const theirs = instances.filter((instance) => stateDirs.includes(instance.config['user.podlab.state-dir'] ?? ''));
	for (const { name } of theirs) await removeInstance(api, name).catch(() => {});
	return theirs.map((instance) => instance.name);
}
