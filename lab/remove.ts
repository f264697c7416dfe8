/**
 * `npm run lab:remove`: takes away everything podlab put on this host — the labs and podlab's part
 * of Incus (its project, images, profiles, pool; the daemon and /var/lib/incus too when podlab
 * made them), the podman lab's images and settings, lxcfs as podlab started it, podlab's apt source
 * and its state directories — and says what it leaves: the Debian packages. `--dry-run` says what
 * it would do. After it, `npm run lab:setup` starts from nothing, as on a new machine.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DAEMON_MADE_FILE, INCUSD, localDaemonState, SYSTEMD_DROP_IN } from './incus/daemon.ts';
import { BACKPORTS_SOURCE, INCUS_PACKAGES } from './incus/host-setup.ts';
import { IncusApi } from './incus/incus-api.ts';
import { removeInstance } from './incus/instances.ts';
import { LXCFS_DIR } from './incus/lxcfs.ts';
import { LOCAL_SOCKET, PROJECT, STORAGE_POOL } from './incus/names.ts';
import { parseCli, requireRoot, runCli } from './lib/cli.ts';
import { run, succeeded } from './lib/exec.ts';
import { LAB_IMAGES } from './lib/images.ts';
import { LAB_PACKAGES } from './lib/packages.ts';
import { CONTAINERS_CONF_PATH, LAB_STATE_DIR } from './lib/paths.ts';

const CACHE_DIR = '/var/cache/podlab';
/** Where a gateway run as root keeps its state unless PODLAB_STATE_DIR says otherwise. */
const DEFAULT_STATE_DIR = join(homedir(), '.local', 'state', 'podlab');

const USAGE = `
Usage: npm run lab:remove [-- --dry-run] [-- --keep-cache]

Takes away everything podlab put on this host (needs root), so that \`npm run lab:setup\`
starts from nothing:
  - in Incus: every instance, image and profile of the project "${PROJECT}" (and of
    PODLAB_INCUS_PROJECT), the project, and the storage pool "${STORAGE_POOL}";
    the daemon and /var/lib/incus too when podlab made them (lab:setup on a host without Incus)
  - lxcfs as podlab started it (no systemd), and its mount at ${LXCFS_DIR}
  - the podman lab: its pods and containers, its images (busybox, alpine:3.2, nginx, the pause image)
  - ${LAB_STATE_DIR} (settings, the work directory, the kernel logs, the lab image's debootstrap),
    ${DEFAULT_STATE_DIR} (a root gateway's default state), podlab's apt source
    ${BACKPORTS_SOURCE}, and ${CACHE_DIR} (downloaded .debs) unless --keep-cache
It leaves the Debian packages installed (it lists them, with the command that removes them).
Stop the gateway first.

Options:
  --dry-run     say what would be removed, remove nothing
  --keep-cache  keep ${CACHE_DIR}: a later lab:setup does not download the packages again
  -h, --help    show this help
`;

interface Plan {
	dryRun: boolean;
	done: string[];
}

/** The name at the end of an Incus URL (`/1.0/instances/lab-1?project=podlab` → `lab-1`). */
function nameOf(url: string): string {
	return decodeURIComponent(new URL(url, 'http://incus').pathname.split('/').pop()!);
}

async function exists(path: string): Promise<boolean> {
	return stat(path).then(() => true, () => false);
}

/** Does `what` (unless a dry run) and says so. */
async function act(plan: Plan, what: string, work: () => Promise<unknown>): Promise<void> {
	process.stdout.write(`${plan.dryRun ? 'would remove' : 'removing'}: ${what}\n`);
	if (!plan.dryRun) await work();
	plan.done.push(what);
}

async function removeFromIncus(plan: Plan): Promise<void> {
	if ((await localDaemonState()) !== 'running') return;
	const server = new IncusApi({ socketPath: LOCAL_SOCKET }, 'default');
	const projects = [...new Set([PROJECT, process.env.PODLAB_INCUS_PROJECT].filter((name): name is string => Boolean(name)))];
	try {
		for (const project of projects) {
			const api = server.inProject(project);
			const there = await api.get(`/1.0/projects/${project}`, { project: null }).then(() => true, () => false);
			if (!there) continue;
			const instances = await api.get<string[]>('/1.0/instances');
			const images = await api.get<string[]>('/1.0/images');
			const profiles = (await api.get<string[]>('/1.0/profiles')).map(nameOf).filter((name) => name !== 'default');
			await act(plan, `Incus project "${project}": ${instances.length} instances, ${images.length} images, ${profiles.length} profiles, the project`, async () => {
				for (const url of instances) await removeInstance(api, nameOf(url));
				for (const url of images) await api.call('DELETE', `/1.0/images/${nameOf(url)}`, { timeoutMs: 120_000 });
				for (const name of profiles) await api.call('DELETE', `/1.0/profiles/${name}`);
				await api.call('DELETE', `/1.0/projects/${project}`, { project: null });
			});
		}
		const pool = await server.get<{ used_by: string[] }>(`/1.0/storage-pools/${STORAGE_POOL}`, { project: null }).catch(() => null);
		if (pool) {
			// A pool that something outside podlab's projects uses stays.
			const others = pool.used_by.filter((user) => !projects.some((project) => user.endsWith(`?project=${project}`)));
			if (others.length > 0) process.stdout.write(`keeping: the storage pool "${STORAGE_POOL}", still used by ${others.join(', ')}\n`);
			else await act(plan, `the Incus storage pool "${STORAGE_POOL}"`, () => server.call('DELETE', `/1.0/storage-pools/${STORAGE_POOL}`, { project: null, timeoutMs: 120_000 }));
		}
	} finally {
		server.close();
	}
}

/** The daemon and /var/lib/incus, when lab:setup made them (its mark says so). */
async function removeDaemon(plan: Plan): Promise<void> {
	if (await exists(SYSTEMD_DROP_IN)) {
		await act(plan, `the systemd drop-in ${SYSTEMD_DROP_IN} (incus.service keeps running, with the host's own id ranges after a restart)`, async () => {
			await rm(SYSTEMD_DROP_IN, { force: true });
			await run('systemctl', ['daemon-reload'], { timeoutMs: 30_000 });
		});
	}
	if (!(await exists(DAEMON_MADE_FILE))) {
		if ((await localDaemonState()) === 'running') process.stdout.write('keeping: the Incus daemon and /var/lib/incus (podlab did not make them)\n');
		return;
	}
	await act(plan, 'the Incus daemon podlab started, and /var/lib/incus (it made them)', async () => {
		if ((await stat('/run/systemd/system').then(() => true, () => false))) await run('systemctl', ['disable', '--now', 'incus.service', 'incus.socket'], { timeoutMs: 60_000 });
		else if ((await localDaemonState()) === 'running') await run('incus', ['admin', 'shutdown', '--timeout', '30'], { timeoutMs: 60_000 });
		await run('pkill', ['-KILL', '-f', `^${INCUSD} `], { timeoutMs: 10_000 });
		for (const point of await mountsUnder('/var/lib/incus')) await run('umount', ['-l', point], { timeoutMs: 10_000 });
		await rm('/var/lib/incus', { recursive: true, force: true });
		await rm('/var/log/incus', { recursive: true, force: true });
	});
}

async function mountsUnder(dir: string): Promise<string[]> {
	const { stdout } = await run('cat', ['/proc/self/mountinfo']);
	return stdout
		.split('\n')
		.map((line) => line.split(' ')[4] ?? '')
		.filter((point) => point === dir || point.startsWith(`${dir}/`))
		.sort((a, b) => b.length - a.length);
}

/** lxcfs when podlab started it (`lxcfs --foreground`, no systemd), and the shared mount point it made. */
async function removeLxcfs(plan: Plan): Promise<void> {
	const systemd = await stat('/run/systemd/system').then(() => true, () => false);
	const mine = await run('pgrep', ['-f', `^lxcfs --foreground ${LXCFS_DIR}$`]);
	const mounts = await mountsUnder(LXCFS_DIR);
	if (systemd || (!succeeded(mine) && mounts.length === 0)) return;
	await act(plan, `lxcfs as podlab started it, and its mounts at ${LXCFS_DIR}`, async () => {
		await run('pkill', ['-f', `^lxcfs --foreground ${LXCFS_DIR}$`]);
		for (const point of mounts) await run('umount', ['-l', point], { timeoutMs: 10_000 });
	});
}

async function removePodmanLab(plan: Plan): Promise<void> {
	const env = { ...process.env, CONTAINERS_CONF: CONTAINERS_CONF_PATH };
	const images = LAB_IMAGES.map((image) => image.reference);
	const present = await run('podman', ['image', 'exists', images[0]!], { env, timeoutMs: 30_000 });
	if (present.spawnError) return;
	await act(plan, `the podman lab's pods, containers and images (${images.join(', ')}, the pause image)`, async () => {
		await run('podman', ['pod', 'rm', '--all', '--force', '--time', '0'], { env, timeoutMs: 120_000 });
		await run('podman', ['rm', '--all', '--force', '--time', '0'], { env, timeoutMs: 120_000 });
		await run('podman', ['rmi', '--force', '--ignore', ...images, 'localhost/podman-pause'], { env, timeoutMs: 120_000 });
		await run('podman', ['volume', 'prune', '--force'], { env, timeoutMs: 60_000 });
	});
}

async function main(): Promise<number> {
	const options = parseCli(process.argv.slice(2), { 'dry-run': { type: 'boolean', default: false }, 'keep-cache': { type: 'boolean', default: false } }, USAGE);
	requireRoot('lab:remove', 'it removes Incus\u2019s labs, podman\u2019s images and podlab\u2019s files under /var/lib');
	const plan: Plan = { dryRun: options['dry-run'], done: [] };
	await removeFromIncus(plan);
	await removeDaemon(plan);
	await removeLxcfs(plan);
	await removePodmanLab(plan);
	const files = [LAB_STATE_DIR, DEFAULT_STATE_DIR, BACKPORTS_SOURCE, ...(options['keep-cache'] ? [] : [CACHE_DIR])];
	for (const path of files) if (await exists(path)) await act(plan, path, () => rm(path, { recursive: true, force: true }));
	if (options['keep-cache'] && (await exists(CACHE_DIR))) process.stdout.write(`keeping: ${CACHE_DIR} (--keep-cache: ${(await readdir(join(CACHE_DIR, 'debs')).catch(() => [])).length} packages downloaded)\n`);
	const packages = [...LAB_PACKAGES, ...INCUS_PACKAGES].map((pkg) => pkg.name).concat('lxcfs');
	const { stdout } = await run('dpkg-query', ['-W', '-f=${Package} ${db:Status-Abbrev}\\n', ...packages]);
	const installed = stdout.split('\n').filter((line) => / ii/.test(line)).map((line) => line.split(' ')[0]!);
	process.stdout.write(
		`${plan.dryRun ? 'Would remove' : 'Removed'} ${plan.done.length} thing${plan.done.length === 1 ? '' : 's'}.\n` +
			(installed.length > 0 ? `Left installed: the Debian packages ${installed.join(' ')} (remove them with: apt-get purge ${installed.join(' ')}).\n` : ''),
	);
	return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runCli(main);
