/**
 * Whether readers can get labs of their own here (the `incus` backend), for `npm run lab:status`,
 * `GET /api/lab` and the startup log: the Incus podlab talks to, its members, what podlab needs in
 * it, and how many labs run. Never throws; every request has a short deadline.
 */
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { currentImage, hostImageIds, imageRecipe, RECIPE_PROPERTY } from './base.ts';
import { poolQuotaMode } from './host-setup.ts';
import { INCUSD } from './daemon.ts';
import { IncusApi, type IncusEndpoint } from './incus-api.ts';
import { lxcfsState } from './lxcfs.ts';
import { KERNEL_LOG_DIR, KERNEL_LOG_PROFILE, LAB_PROFILE, PROJECT, STORAGE_POOL } from './names.ts';

/** The config key saying what an instance of podlab's project is: a reader's `lab`, a `kernel-log` reader, the `image-builder`. */
export const ROLE_KEY = 'user.podlab.role';

export const incusStatusSchema = z.object({
	/** True when labs can be made now (the gateway can use the incus backend). */
	available: z.boolean(),
	/** Where podlab talks to Incus: its unix socket or https:// address. */
	address: z.string(),
	/** Incus answered. */
	reachable: z.boolean(),
	version: z.string().nullable(),
	clustered: z.boolean(),
	/** Cluster members (one box: none), with Incus's word on each. */
	members: z.array(z.object({ name: z.string(), status: z.string(), message: z.string() })),
	/** The lab image: as this checkout builds it, built from an older recipe (works; `lab:setup` updates it), or missing. */
	image: z.enum(['current', 'outdated', 'missing', 'unknown']),
	/** Readers' labs in podlab's project. */
	running: z.number().int(),
	stopped: z.number().int(),
	/** What is missing, in plain words with what to do; empty when available. */
	missing: z.array(z.string()),
	/** The pool's btrfs quotas on this machine: `simple` (cheap lab removal), `full` (removing a lab costs seconds of CPU), `off`, or `unknown` (a remote Incus). */
	quotas: z.enum(['simple', 'full', 'off', 'unknown']),
	/** Whether labs on this machine see their own memory and uptime (lab/incus/lxcfs.ts); never "missing". */
	lxcfs: z.enum(['running', 'not-installed', 'not-running']),
});
export type IncusStatus = z.infer<typeof incusStatusSchema>;

const SETUP = 'run `npm run lab:setup` as root';

interface Instance {
	status: string;
	/** Null for an instance on an offline cluster member: its config is not known then. */
	config: Record<string, string> | null;
}

/** Asks Incus what podlab needs of it. `local`: the endpoint is this machine's daemon (its files are checked too). */
export async function detectIncusLabs(endpoint: IncusEndpoint, project = PROJECT, timeoutMs = 5_000): Promise<IncusStatus> {
	const local = 'socketPath' in endpoint;
	const api = new IncusApi(endpoint, project);
	const address = api.address;
	const lxcfs = local ? await lxcfsState() : 'not-installed';
	const status: IncusStatus = { available: false, address, reachable: false, version: null, clustered: false, members: [], image: 'unknown', running: 0, stopped: 0, missing: [], quotas: 'unknown', lxcfs };
	try {
		if (local && !(await stat(INCUSD).then(() => true, () => false))) {
			status.missing.push(`Incus (${SETUP})`);
			return status;
		}
		let server: { environment: { server_version: string; server_clustered: boolean }; auth: string };
		try {
			server = await api.get('/1.0', { project: null, timeoutMs });
		} catch (error) {
			const why = (error as Error).message;
			status.missing.push(local ? `a running Incus daemon: ${why} (${SETUP}; it starts the daemon)` : `an answer from Incus at ${address}: ${why}`);
			return status;
		}
		status.reachable = true;
		if (server.auth !== 'trusted') {
			status.missing.push(`Incus\u2019s trust: podlab\u2019s certificate is not trusted at ${address} (\`incus config trust add-certificate\` with PODLAB_INCUS_CLIENT_CERT)`);
			return status;
		}
		status.version = server.environment.server_version;
		status.clustered = server.environment.server_clustered;
		const [members, projectThere, pool, labProfile, readerProfile, instances, kernelLogDir] = await Promise.all([
			status.clustered ? api.get<Array<{ server_name: string; status: string; message: string }>>('/1.0/cluster/members', { project: null, query: { recursion: '1' }, timeoutMs }).catch(() => []) : [],
			present(api.get(`/1.0/projects/${project}`, { project: null, timeoutMs })),
			present(api.get(`/1.0/storage-pools/${STORAGE_POOL}`, { project: null, timeoutMs })),
			present(api.get(`/1.0/profiles/${LAB_PROFILE}`, { timeoutMs })),
			present(api.get(`/1.0/profiles/${KERNEL_LOG_PROFILE}`, { timeoutMs })),
			api.get<Instance[]>('/1.0/instances', { query: { recursion: '1' }, timeoutMs }).catch(() => [] as Instance[]),
			local ? stat(KERNEL_LOG_DIR).then(() => true, () => false) : Promise.resolve(true),
		]);
		status.members = members.map((member) => ({ name: member.server_name, status: member.status, message: member.message }));
		if (!projectThere) status.missing.push(`the Incus project "${project}" (${SETUP})`);
		if (!pool) status.missing.push(`the storage pool "${STORAGE_POOL}" (${SETUP})`);
		if (projectThere && (!labProfile || !readerProfile)) status.missing.push(`the profiles "${LAB_PROFILE}" and "${KERNEL_LOG_PROFILE}" (${SETUP})`);
		if (!kernelLogDir) status.missing.push(`${KERNEL_LOG_DIR}, which every lab mounts (${SETUP})`);
		const labs = instances.filter((instance) => instance.config?.[ROLE_KEY] === 'lab');
		status.running = labs.filter((instance) => instance.status === 'Running').length;
		status.stopped = labs.length - status.running;
		if (projectThere) {
			const image = await currentImage(api).catch(() => undefined);
			if (image === undefined) status.image = 'unknown';
			else if (image === null) status.image = 'missing';
			else {
				const ids = local ? await hostImageIds() : null;
				const recipe = ids ? await imageRecipe(ids) : null;
				status.image = recipe === null || image.properties[RECIPE_PROPERTY] === recipe ? 'current' : 'outdated';
			}
			if (status.image === 'missing') status.missing.push(`the lab image (${SETUP})`);
		}
		if (local && pool && process.getuid?.() === 0) status.quotas = await poolQuotaMode(api);
		const offline = status.members.filter((member) => member.status !== 'Online');
		if (status.clustered && offline.length === status.members.length) status.missing.push('an online cluster member');
		status.available = status.missing.length === 0;
		return status;
	} finally {
		api.close();
	}
}

async function present(request: Promise<unknown>): Promise<boolean> {
	return request.then(
		() => true,
		() => false,
	);
}
