/**
 * The Incus steps of `npm run lab:setup`: what a host needs so that every reader gets a lab of their
 * own (server/backends/incus/). They run after the podman lab's steps, whose images the lab image
 * loads. Each step checks before it acts, so a second run takes seconds.
 */
import { chmod, mkdir, readFile, statfs, writeFile } from 'node:fs/promises';
import { SetupError } from '../lib/cli.ts';
import { run } from '../lib/exec.ts';
import { readOsRelease } from '../lib/host.ts';
import { debianMirror } from '../lib/images.ts';
import { findMissingPackages, installPackages } from '../lib/packages.ts';
import type { Progress } from '../lib/progress.ts';
import { ensureLabImage } from './base.ts';
import { ensureIdRange, ensureIncusDaemon } from './daemon.ts';
import { IncusApi, IncusError } from './incus-api.ts';
import { DEFAULT_LAB_LIMITS, renderKernelLogProfile, renderLabProfile, type IncusProfile } from './lab-profile.ts';
import { ensureLxcfs, LXCFS_DIR } from './lxcfs.ts';
import { KERNEL_LOG_DIR, KERNEL_LOG_PROFILE, LAB_PROFILE, LOCAL_SOCKET, PROJECT, STORAGE_POOL } from './names.ts';

/** Host packages of the labs. Incus comes from bookworm-backports on Debian 12 (universe on Ubuntu 24.04). */
export const INCUS_PACKAGES: ReadonlyArray<{ name: string; why: string }> = [
	{ name: 'incus-base', why: 'Incus, without the QEMU that its `incus` package pulls in for virtual machines' },
	{ name: 'incus-client', why: 'the `incus` command, for operators' },
	{ name: 'btrfs-progs', why: 'the labs\u2019 storage pool: a snapshot of the image per lab, with a disk quota' },
	{ name: 'debootstrap', why: 'builds the lab image from Debian\u2019s packages' },
];

/** Optional: without it, labs work, and `free` and `uptime` in them show the host's figures. */
const LXCFS_PACKAGE = 'lxcfs';

/** The apt source podlab adds on Debian 12 for Incus (lab:remove takes it away). */
export const BACKPORTS_SOURCE = '/etc/apt/sources.list.d/podlab-backports.sources';

/** Largest storage pool lab:setup makes (a sparse file: it takes disk only as labs write). */
const MAX_POOL_BYTES = 100 * 2 ** 30;
const MIN_POOL_BYTES = 4 * 2 ** 30;

/**
 * What lab:setup prepares of Incus: `one-box` (this machine: the host, the daemon, podlab's objects
 * and the image), `member` (this machine as a member of a cluster: the host and the daemon only),
 * `remote` (podlab's objects and the image on the Incus of PODLAB_INCUS_URL, from this machine).
 */
export type IncusSetupMode = 'one-box' | 'member' | 'remote';

/**
 * The steps `runIncusSteps` runs in `mode`, as how long each takes on a fresh Debian 12 machine
 * (2 cores; packages from the network): the count, and the time left the page shows meanwhile.
 */
export const INCUS_STEPS_MS: Record<IncusSetupMode, readonly number[]> = {
	// packages, id range, lxcfs, the daemon, pool and profiles, the lab image
	'one-box': [20_000, 200, 2_000, 3_000, 1_000, 60_000],
	member: [20_000, 200, 2_000, 3_000],
	remote: [1_000, 60_000],
};

/**
 * The pool's size: half of what the file system under Incus has free, at most 100 GiB. The pool is
 * a file of that size, so labs together can never write more than that on the host's disk.
 */
export function choosePoolBytes(freeBytes: number): number {
	const size = Math.min(MAX_POOL_BYTES, Math.floor(freeBytes / 2 / 2 ** 30) * 2 ** 30);
	if (size < MIN_POOL_BYTES) throw new Error(`the file system under /var/lib/incus has ${(freeBytes / 2 ** 30).toFixed(1)} GiB free; the labs' pool needs at least ${MIN_POOL_BYTES / 2 ** 30} GiB, half of what is free`);
	return size;
}

/** The apt source of bookworm-backports, from the mirror apt already uses. */
export function renderBackportsSource(mirror: string, suite: string): string {
	return `# Added by podlab's lab:setup for Incus (lab/incus/host-setup.ts); npm run lab:remove takes it away.
Types: deb
URIs: ${mirror}
Suites: ${suite}-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;
}

async function installIncusPackages(log: (chunk: Buffer) => void): Promise<string> {
	const names = INCUS_PACKAGES.map((pkg) => pkg.name);
	const missing = await findMissingPackages(names);
	if (missing.length === 0) return `all ${names.length} installed`;
	const os = await readOsRelease();
	let release: string | undefined;
	if (os.ID === 'debian' && os.VERSION_CODENAME === 'bookworm') {
		// Debian 12 has Incus only in backports; its packages there are updated by `apt-get upgrade` once installed.
		await writeFile(BACKPORTS_SOURCE, renderBackportsSource(await debianMirror(), os.VERSION_CODENAME));
		release = `${os.VERSION_CODENAME}-backports`;
	}
	// Incus from backports, and btrfs-progs 6.7 or later for simple quotas; the rest stays at the release's versions.
	const fromBackports = release ? missing.filter((name) => name.startsWith('incus') || name === 'btrfs-progs') : [];
	const others = missing.filter((name) => !fromBackports.includes(name));
	if (others.length > 0) await installPackages(others, log);
	if (fromBackports.length > 0) await installPackages(fromBackports, log, { targetRelease: release });
	const still = await findMissingPackages(names);
	if (still.length > 0) throw new SetupError('LAB_SETUP_APT', `still not installed: ${still.join(', ')}`, `run \`apt-get install ${release ? `-t ${release} ` : ''}${still.join(' ')}\` by hand to see why`);
	return `installed ${missing.join(' ')}${fromBackports.length > 0 ? ` (${fromBackports.join(' ')} from ${release})` : ''}`;
}

/** JSON with object keys in order, so that Incus's answer compares equal to what was sent. */
function canonicalJson(value: unknown): string {
	return JSON.stringify(value, (_key, inner: unknown) =>
		inner && typeof inner === 'object' && !Array.isArray(inner) ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => a.localeCompare(b))) : inner,
	);
}

async function putProfile(api: IncusApi, name: string, profile: IncusProfile): Promise<'written' | 'unchanged'> {
	try {
		const current = await api.get<IncusProfile>(`/1.0/profiles/${name}`);
		const same = canonicalJson([current.config, current.devices, current.description]) === canonicalJson([profile.config, profile.devices, profile.description]);
		if (same) return 'unchanged';
		await api.call('PUT', `/1.0/profiles/${name}`, { body: profile });
	} catch (error) {
		if (!(error as IncusError).notFound) throw error;
		await api.call('POST', '/1.0/profiles', { body: { name, ...profile } });
	}
	return 'written';
}

/**
 * The storage pool of this machine's Incus, with simple quotas where the kernel has them; returns what
 * it did. A cluster's pool is the operator's to make (`incus admin init` on each member asks for
 * it), since its size belongs to each member's disk: a missing one is a failure that says so.
 */
export async function ensurePool(api: IncusApi): Promise<string> {
	let made = false;
	try {
		const pool = await api.get<{ status: string; driver: string }>(`/1.0/storage-pools/${STORAGE_POOL}`, { project: null });
		if (pool.status !== 'Created') throw new SetupError('LAB_SETUP_HOST_SETTINGS', `the storage pool "${STORAGE_POOL}" is ${pool.status}`, '`incus storage show podlab` says why; fix it, then rerun `npm run lab:setup`');
	} catch (error) {
		if (!(error as IncusError).notFound) throw error;
		const info = await api.get<{ environment: { server_clustered: boolean } }>('/1.0', { project: null });
		if (info.environment.server_clustered) {
			throw new SetupError(
				'LAB_SETUP_HOST_SETTINGS',
				`the cluster at ${api.address} has no storage pool "${STORAGE_POOL}"`,
				`make a btrfs pool named ${STORAGE_POOL} on every member (docs/self-hosting.md: \`incus storage create ${STORAGE_POOL} btrfs size=…\` with --target per member, then once without), then rerun \`npm run lab:setup\``,
			);
		}
		const size = choosePoolBytes(await statfs('/var/lib').then((stats) => stats.bavail * stats.bsize));
		await api.call('POST', '/1.0/storage-pools', { project: null, body: { name: STORAGE_POOL, driver: 'btrfs', config: { size: `${size / 2 ** 30}GiB` }, description: 'podlab: the labs\u2019 root file systems' }, timeoutMs: 120_000 });
		made = true;
	}
	const quotas = 'socketPath' in api.endpoint ? await ensureSimpleQuotas(api) : 'the members\u2019 own';
	return `pool ${STORAGE_POOL} ${made ? 'made' : 'there'} (btrfs; quotas: ${quotas})`;
}

/**
 * btrfs's full quota groups account every extent a snapshot shares with the image by walking its
 * back references: with hundreds of labs, removing one keeps a core busy for seconds to minutes
 * (measured here: ~8 s of CPU per removed snapshot of a 127,000-file tree, and growing with the
 * number of snapshots). Simple quotas (Linux 6.7, btrfs-progs 6.7) count what each subvolume
 * writes itself, and a removal costs a fraction of a second. They are turned on while the pool has
 * no quota yet (Incus turns on full quotas when it sets the first lab's size), in the daemon's own
 * mount namespace, where Incus mounted the pool. Returns the pool's quota mode.
 */
async function ensureSimpleQuotas(api: IncusApi): Promise<string> {
	if ((await poolQuotaMode(api)) === 'off') {
		const pid = (await api.get<{ environment: { server_pid: number } }>('/1.0', { project: null })).environment.server_pid;
		await run('nsenter', ['-t', String(pid), '-m', 'btrfs', 'quota', 'enable', '--simple', POOL_MOUNT], { timeoutMs: 60_000 });
	}
	const now = await poolQuotaMode(api);
	return now === 'simple' ? 'simple' : now === 'full' ? 'full (this kernel or btrfs-progs has no simple quotas: removing labs costs CPU)' : now;
}

/** Where Incus mounts the pool, in its own mount namespace. */
const POOL_MOUNT = `/var/lib/incus/storage-pools/${STORAGE_POOL}`;

/** The quota mode of this machine's pool: `simple`, `full`, `off`, or `unknown` (no pool, not root). */
export async function poolQuotaMode(api: IncusApi): Promise<'simple' | 'full' | 'off' | 'unknown'> {
	const pid = await api.get<{ environment: { server_pid: number } }>('/1.0', { project: null, timeoutMs: 5_000 }).then((info) => info.environment.server_pid, () => null);
	if (!pid) return 'unknown';
	const shown = await run('nsenter', ['-t', String(pid), '-m', 'btrfs', 'filesystem', 'show', POOL_MOUNT], { timeoutMs: 5_000 });
	const uuid = /uuid: ([0-9a-f-]{36})/.exec(shown.stdout)?.[1];
	if (!uuid) return 'unknown';
	const mode = (await readFile(`/sys/fs/btrfs/${uuid}/qgroups/mode`, 'utf8').catch(() => 'off')).trim();
	return mode === 'squota' ? 'simple' : mode === 'qgroup' ? 'full' : 'off';
}

/** podlab's project (its own images and profiles) and its two profiles; returns what it did. */
export async function ensureProjectAndProfiles(api: IncusApi): Promise<string> {
	const done: string[] = [];
	try {
		await api.get(`/1.0/projects/${api.project}`, { project: null });
	} catch (error) {
		if (!(error as IncusError).notFound) throw error;
		await api.call('POST', '/1.0/projects', {
			project: null,
			body: {
				name: api.project,
				description: 'podlab: readers\u2019 labs (managed by the podlab gateway; npm run lab:remove takes it away)',
				config: { 'features.images': 'true', 'features.profiles': 'true', 'features.storage.volumes': 'true', 'features.networks': 'false' },
			},
		});
		done.push(`project ${api.project} made`);
	}
	const lab = await putProfile(api, LAB_PROFILE, renderLabProfile(DEFAULT_LAB_LIMITS));
	const reader = await putProfile(api, KERNEL_LOG_PROFILE, renderKernelLogProfile());
	done.push(`profiles ${LAB_PROFILE} ${lab}, ${KERNEL_LOG_PROFILE} ${reader}`);
	return done.join('; ');
}

/** The kernel-log tree every lab mounts read-only (and the reader writes): must exist on every Incus host. */
export async function ensureKernelLogDir(): Promise<void> {
	await mkdir(KERNEL_LOG_DIR, { recursive: true, mode: 0o711 });
	await chmod(KERNEL_LOG_DIR, 0o711);
}

/** Runs the Incus steps of lab:setup for `mode`, each as one progress step; `api` is the Incus to prepare (remote mode). */
export async function runIncusSteps(progress: Progress, options: { mode: IncusSetupMode; api?: IncusApi; rebuild: boolean; log: (chunk: Buffer) => void }): Promise<void> {
	if (options.mode !== 'remote') await prepareHost(progress, options.log);
	if (options.mode === 'member') return;
	const api = options.api ?? new IncusApi({ socketPath: LOCAL_SOCKET }, process.env.PODLAB_INCUS_PROJECT || PROJECT);
	try {
		await progress.step('Labs: storage pool, project and profiles', async () => `${await ensurePool(api)}; ${await ensureProjectAndProfiles(api)}`);
		await progress.step('Labs: the lab image (debootstrap, podman, the images)', () => ensureLabImage(api, { force: options.rebuild, log: options.log }));
	} finally {
		if (!options.api) api.close();
	}
}

/** What every Incus host of podlab's labs needs: the packages, an id range, lxcfs, the daemon, the kernel-log tree. */
async function prepareHost(progress: Progress, log: (chunk: Buffer) => void): Promise<void> {
	await progress.step('Labs: Debian packages (incus-base, incus-client, btrfs-progs)', () => installIncusPackages(log));
	await progress.step('Labs: an id range of Incus\u2019s own', async () => {
		try {
			const range = await ensureIdRange();
			return `${range.start}..${range.start + range.count - 1}`;
		} catch (cause) {
			throw new SetupError('LAB_SETUP_HOST_SETTINGS', (cause as Error).message, 'free a range of a billion ids below 2^31 in /etc/subuid and /etc/subgid, then rerun `npm run lab:setup`', { cause });
		}
	});
	await progress.step('Labs: lxcfs (free and uptime in a lab show the lab\u2019s own)', async () => {
		if ((await findMissingPackages([LXCFS_PACKAGE])).length > 0) {
			await installPackages([LXCFS_PACKAGE], log).catch((error: Error) => log(Buffer.from(`lxcfs not installed: ${error.message}\n`)));
		}
		const state = await ensureLxcfs();
		// Not a failure: labs work without it (see lab/incus/lxcfs.ts).
		if (state === 'running') return `running at ${LXCFS_DIR}`;
		return state === 'not-installed' ? 'not installed: labs show the host\u2019s memory and uptime' : 'could not start it: labs show the host\u2019s memory and uptime';
	});
	await progress.step('Labs: the Incus daemon and the kernel-log tree', async () => {
		await ensureKernelLogDir();
		try {
			return `${await ensureIncusDaemon()}; ${KERNEL_LOG_DIR}`;
		} catch (cause) {
			throw new SetupError('LAB_SETUP_HOST_SETTINGS', (cause as Error).message, 'read the daemon\u2019s log named above, then rerun `npm run lab:setup`', { cause });
		}
	});
}
