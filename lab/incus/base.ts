/**
 * The lab image, `podlab-base`: a Debian root file system built offline with debootstrap from
 * Debian's packages (the mirror apt uses), with podman, its tools, podlab's files and the article's
 * images inside, imported into Incus. Every lab is a snapshot of it.
 *
 * Built in two stages. The host assembles the root file system (debootstrap's result, kept in
 * INCUS_STATE_DIR so that a change to podlab's files does not run debootstrap again, plus podlab's
 * files) and imports it. A builder instance made from that first image then loads the images the
 * podman lab built on the host, builds the kernel-log relay, and runs a pod with a 100 MiB
 * container: an image that cannot run the article is never published. The builder is published as
 * `podlab-base`, with a hash of its recipe as a property; an image with the same recipe is not built
 * again.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SetupError } from '../lib/cli.ts';
import { describeFailure, run, succeeded, type RunResult } from '../lib/exec.ts';
import { debianMirror, debianSuite, labImage, LAB_IMAGES } from '../lib/images.ts';
import { CONTAINERS_CONF_PATH, LAB_SOURCE_DIR, SETUP_LOG_PATH } from '../lib/paths.ts';
import type { IncusApi, RunInInstanceResult } from './incus-api.ts';
import { removeInstance } from './instances.ts';
import { buildTerminalRelay, INCUS_STATE_DIR, LAB_IMAGE, LAB_PROFILE, TERMINAL_RELAY_SOURCE } from './names.ts';

/** Bump when the image is assembled differently. */
const RECIPE_VERSION = 3;
/** The image property holding the recipe hash. */
export const RECIPE_PROPERTY = 'podlab.recipe';

/** The Debian packages of the image (debootstrap --include), with why each is there. */
export const BASE_PACKAGES: ReadonlyArray<{ name: string; why: string }> = [
	{ name: 'podman', why: 'runs the article\u2019s YAML with `podman kube play`' },
	{ name: 'runc', why: 'the OCI runtime (crun refuses hybrid cgroup layouts)' },
	{ name: 'conmon', why: 'podman\u2019s container monitor' },
	{ name: 'catatonit', why: 'the lab\u2019s init, and the pods\u2019 pause image' },
	{ name: 'netavark', why: 'pod networking inside the lab' },
	{ name: 'aardvark-dns', why: 'name resolution on podman networks' },
	{ name: 'iptables', why: 'netavark\u2019s firewall rules' },
	{ name: 'iproute2', why: '`ip netns`' },
	{ name: 'busybox-static', why: 'syslogd for conmon, and the chapters\u2019 small tools' },
	{ name: 'procps', why: '`ps`, `free`' },
	{ name: 'psmisc', why: '`pstree`' },
	{ name: 'gcc', why: 'builds the OOM chapter\u2019s memory stress program (and podlab\u2019s two relays)' },
	{ name: 'libc6-dev', why: 'static libc for `gcc -static`' },
	{ name: 'tmux', why: 'a terminal multiplexer for readers who want one' },
	{ name: 'jq', why: 'reading `podman inspect` JSON' },
	{ name: 'wget', why: 'the sidecar chapter reads nginx\u2019s page with `wget`' },
	{ name: 'less', why: 'a pager for readers' },
];

/** The instance that loads the images into a new image; never a reader's. */
export const IMAGE_BUILDER = 'podlab-image-builder';
/** The first stage's image (root file system and podlab's files, no container images yet). */
const STAGE_IMAGE = 'podlab-base-stage';

const FILES_DIR = join(LAB_SOURCE_DIR, 'incus/files');
/** The terminal relay's source in this checkout: the image's relay is built from it, and so is an older lab's update (reader-labs.ts). */
export const TERMINAL_RELAY_SOURCE_FILE = join(FILES_DIR, 'terminal-relay.c');
/** debootstrap's result, kept (read-only by convention) so that a change to podlab's files rebuilds in seconds. */
const BOOTSTRAP_DIR = `${INCUS_STATE_DIR}/bootstrap`;
const BOOTSTRAP_RECIPE_FILE = `${BOOTSTRAP_DIR}/etc/podlab-bootstrap-recipe`;
/** Where the first stage is assembled (removed afterwards). */
const STAGE_DIR = `${INCUS_STATE_DIR}/image-build`;
const IMAGES_ARCHIVE = '/var/tmp/podlab-images.tar';
const RELAY_SOURCE = '/usr/local/src/podlab/kernel-log-relay.c';
export const RELAY_BINARY = '/usr/local/sbin/podlab-kernel-log-relay';

/** The files podlab puts in the image: source in lab/incus/files, target path, mode. */
const PODLAB_FILES = [
	{ source: 'podlab-lab-init.sh', target: '/usr/local/sbin/podlab-lab-init', mode: 0o755 },
	{ source: 'dmesg.sh', target: '/usr/local/bin/dmesg', mode: 0o755 },
	{ source: 'kernel-log-relay.c', target: RELAY_SOURCE, mode: 0o644 },
	{ source: 'terminal-relay.c', target: TERMINAL_RELAY_SOURCE, mode: 0o644 },
] as const;

/** The containers.conf of every lab: the lab is a machine of its own, so its /etc is podlab's. */
export function renderLabContainersConf(): string {
	return `# podman's settings in a podlab lab (lab/incus/base.ts). Limits: containers.conf.d/, written at lab start.
[engine]
# crun refuses the host's hybrid cgroup layout; runc handles it.
runtime = "runc"
# No systemd in a lab: podman manages the pods' cgroups itself, inside the lab's cgroup subtree.
cgroup_manager = "cgroupfs"
events_logger = "file"
[network]
network_backend = "netavark"
`;
}

const STORAGE_CONF = `# podman's storage in a podlab lab (lab/incus/base.ts).
[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
`;

/** The recipe hash: packages, suite, podlab's files, the images' ids. */
export async function imageRecipe(imageIds: readonly string[]): Promise<string> {
	const files = await Promise.all(PODLAB_FILES.map((file) => readFile(join(FILES_DIR, file.source), 'utf8')));
	const recipe = JSON.stringify({ version: RECIPE_VERSION, bootstrap: await bootstrapRecipe(), files, containersConf: renderLabContainersConf(), storage: STORAGE_CONF, imageIds });
	return createHash('sha256').update(recipe).digest('hex').slice(0, 16);
}

/** Ids of the host's lab images (what the lab image loads), or null when one is missing. */
export async function hostImageIds(): Promise<string[] | null> {
	const env = { ...process.env, CONTAINERS_CONF: CONTAINERS_CONF_PATH };
	const result = await run('podman', ['image', 'inspect', '--format', '{{.Id}}', ...LAB_IMAGES.map((image) => image.reference)], { env, timeoutMs: 15_000 });
	if (!succeeded(result)) return null;
	return result.stdout.trim().split('\n');
}

interface ImageInfo {
	fingerprint: string;
	properties: Record<string, string>;
}

/** The lab image Incus has under its alias, or null. */
export async function currentImage(api: IncusApi): Promise<ImageInfo | null> {
	try {
		const alias = await api.get<{ target: string }>(`/1.0/images/aliases/${LAB_IMAGE}`);
		return await api.get<ImageInfo>(`/1.0/images/${alias.target}`);
	} catch (error) {
		if ((error as { notFound?: boolean }).notFound) return null;
		throw error;
	}
}

/** The fingerprint of the lab image new labs are made from, or null when there is none or Incus does not say. */
export async function labImageFingerprint(api: IncusApi): Promise<string | null> {
	return (await currentImage(api).catch(() => null))?.fingerprint ?? null;
}

function buildFailure(what: string, detail: string): SetupError {
	return new SetupError('LAB_SETUP_IMAGE_BUILD', `building the lab image failed while ${what}: ${detail}`, `read ${SETUP_LOG_PATH}, fix the cause, then rerun \`npm run lab:setup\``);
}

/**
 * Builds and imports the lab image unless Incus has one with this recipe (or `force`). Returns
 * "up to date" or what was built.
 */
export async function ensureLabImage(api: IncusApi, options: { force: boolean; log: (chunk: Buffer) => void }): Promise<string> {
	const imageIds = await hostImageIds();
	if (!imageIds) throw new SetupError('LAB_SETUP_IMAGE_BUILD', 'the podman lab\u2019s images are missing on the host', 'run `npm run lab:setup` (it builds them first)');
	const recipe = await imageRecipe(imageIds);
	const current = await currentImage(api);
	if (!options.force && current?.properties[RECIPE_PROPERTY] === recipe) return 'up to date';

	const bootstrapped = await ensureBootstrap(options.force, options.log);
	await removeInstance(api, IMAGE_BUILDER);
	const stage = await importStage(api, recipe, options.log);
	try {
		await buildIn(api, stage, options.log);
		const published = await api.call<{ fingerprint: string }>('POST', '/1.0/images', {
			body: {
				source: { type: 'instance', name: IMAGE_BUILDER },
				compression_algorithm: 'none',
				properties: { description: 'podlab lab image (npm run lab:setup)', [RECIPE_PROPERTY]: recipe, os: 'Debian', release: await debianSuite() },
			},
			timeoutMs: 600_000,
		});
		await pointAlias(api, published.fingerprint);
		await removeImagesExcept(api, published.fingerprint);
		return `built (debootstrap ${bootstrapped}), recipe ${recipe}`;
	} finally {
		await removeInstance(api, IMAGE_BUILDER);
		await api.call('DELETE', `/1.0/images/${stage}`, { timeoutMs: 120_000 }).catch(() => {});
	}
}

/** Removes the project's other images: the one this build replaces, and stages a failed build left. */
async function removeImagesExcept(api: IncusApi, kept: string): Promise<void> {
	const images = await api.get<string[]>('/1.0/images');
	for (const url of images) {
		const fingerprint = new URL(url, 'http://incus').pathname.split('/').pop()!;
		if (fingerprint !== kept) await api.call('DELETE', `/1.0/images/${fingerprint}`, { timeoutMs: 120_000 }).catch(() => {});
	}
}

async function pointAlias(api: IncusApi, fingerprint: string): Promise<void> {
	try {
		await api.call('PUT', `/1.0/images/aliases/${LAB_IMAGE}`, { body: { target: fingerprint, description: 'podlab lab image' } });
	} catch (error) {
		if (!(error as { notFound?: boolean }).notFound) throw error;
		await api.call('POST', '/1.0/images/aliases', { body: { name: LAB_IMAGE, target: fingerprint, description: 'podlab lab image' } });
	}
}

/** The recipe of debootstrap's part: the Debian release and the package list. */
async function bootstrapRecipe(): Promise<string> {
	const recipe = JSON.stringify({ version: RECIPE_VERSION, suite: await debianSuite(), packages: BASE_PACKAGES.map((pkg) => pkg.name) });
	return createHash('sha256').update(recipe).digest('hex').slice(0, 16);
}

/** Runs debootstrap unless its result for this recipe is kept; returns "kept" or how long it took. */
async function ensureBootstrap(force: boolean, log: (chunk: Buffer) => void): Promise<string> {
	const recipe = await bootstrapRecipe();
	const kept = (await readFile(BOOTSTRAP_RECIPE_FILE, 'utf8').catch(() => '')).trim();
	if (!force && kept === recipe) return 'kept';
	const started = performance.now();
	await rm(BOOTSTRAP_DIR, { recursive: true, force: true });
	await mkdir(BOOTSTRAP_DIR, { recursive: true });
	const [suite, mirror] = [await debianSuite(), await debianMirror()];
	// Shared with the nginx image's debootstrap: a package already fetched is not fetched again.
	const cache = '/var/cache/podlab/debs';
	await mkdir(cache, { recursive: true });
	const include = BASE_PACKAGES.map((pkg) => pkg.name).join(',');
	const result = await run('debootstrap', ['--variant=minbase', `--include=${include}`, `--cache-dir=${cache}`, suite, BOOTSTRAP_DIR, mirror], { timeoutMs: 1_800_000, onOutput: log });
	if (!succeeded(result)) {
		await rm(BOOTSTRAP_DIR, { recursive: true, force: true });
		throw buildFailure(`running debootstrap ${suite} from ${mirror}`, describeFailure('debootstrap', result));
	}
	// debootstrap leaves its package cache and lists: 100+ MB the labs never read.
	for (const path of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
		await rm(join(BOOTSTRAP_DIR, path), { recursive: true, force: true });
		await mkdir(join(BOOTSTRAP_DIR, path), { recursive: true });
	}
	await writeFile(BOOTSTRAP_RECIPE_FILE, `${recipe}\n`);
	return `${((performance.now() - started) / 1000).toFixed(0)}s`;
}

/** Assembles the first stage (debootstrap's result and podlab's files), imports it, and returns its fingerprint. */
async function importStage(api: IncusApi, recipe: string, log: (chunk: Buffer) => void): Promise<string> {
	await rm(STAGE_DIR, { recursive: true, force: true });
	await mkdir(STAGE_DIR, { recursive: true });
	try {
		const rootfs = join(STAGE_DIR, 'rootfs');
		const copied = await run('cp', ['-a', BOOTSTRAP_DIR, rootfs], { timeoutMs: 600_000, onOutput: log });
		if (!succeeded(copied)) throw buildFailure('copying debootstrap\u2019s result', describeFailure('cp', copied));
		await installFiles(rootfs, recipe);
		const created = Math.floor(Date.now() / 1000);
		await writeFile(join(STAGE_DIR, 'metadata.yaml'), `architecture: x86_64\ncreation_date: ${created}\nproperties:\n  description: podlab lab image, first stage\n`);
		// The tarball goes to Incus as tar writes it: no second copy of the root file system on disk.
		const tar = spawn('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls', '-C', STAGE_DIR, '-c', 'metadata.yaml', 'rootfs'], { stdio: ['ignore', 'pipe', 'pipe'] });
		tar.stderr.on('data', log);
		const tarred = new Promise<number | null>((resolve) => tar.once('close', resolve));
		let fingerprint: string;
		try {
			fingerprint = (await api.call<{ fingerprint: string }>('POST', '/1.0/images', { stream: tar.stdout, headers: { 'content-type': 'application/octet-stream', 'x-incus-public': '0' }, timeoutMs: 600_000 })).fingerprint;
		} catch (cause) {
			tar.kill('SIGKILL');
			throw buildFailure('importing the root file system into Incus', (cause as Error).message);
		}
		if ((await tarred) !== 0) throw buildFailure('packing the root file system', 'tar failed (see the log)');
		await api.call('POST', '/1.0/images/aliases', { body: { name: STAGE_IMAGE, target: fingerprint } }).catch(() => api.call('PUT', `/1.0/images/aliases/${STAGE_IMAGE}`, { body: { target: fingerprint } }));
		return fingerprint;
	} finally {
		await rm(STAGE_DIR, { recursive: true, force: true });
	}
}

async function installFiles(root: string, recipe: string): Promise<void> {
	await mkdir(join(root, 'etc/containers'), { recursive: true });
	await writeFile(join(root, 'etc/containers/containers.conf'), renderLabContainersConf());
	await writeFile(join(root, 'etc/containers/storage.conf'), STORAGE_CONF);
	for (const file of PODLAB_FILES) {
		const target = join(root, file.target);
		await mkdir(join(target, '..'), { recursive: true });
		await copyFile(join(FILES_DIR, file.source), target);
		await chmod(target, file.mode);
	}
	await writeFile(join(root, 'etc/hosts'), '127.0.0.1 localhost\n::1 localhost\n');
	// No network: an empty resolv.conf makes name lookups fail at once instead of timing out.
	await writeFile(join(root, 'etc/resolv.conf'), '');
	await writeFile(join(root, 'etc/hostname'), 'podlab-lab\n');
	await writeFile(join(root, 'etc/podlab-image-recipe'), `${recipe}\n`);
}

/** Starts the builder from the first stage, loads the images, builds the relay and checks a pod; leaves it stopped. */
async function buildIn(api: IncusApi, stage: string, log: (chunk: Buffer) => void): Promise<void> {
	await api.call('POST', '/1.0/instances', {
		body: { name: IMAGE_BUILDER, source: { type: 'image', fingerprint: stage }, profiles: [LAB_PROFILE], config: { 'user.podlab.role': 'image-builder' } },
		timeoutMs: 600_000,
	});
	await api.call('PUT', `/1.0/instances/${IMAGE_BUILDER}/state`, { body: { action: 'start', timeout: 30 }, timeoutMs: 60_000 });
	const inBuilder = async (what: string, script: string, timeoutMs: number): Promise<RunInInstanceResult> => {
		const result = await api.run(IMAGE_BUILDER, { command: ['sh', '-c', script], environment: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' }, timeoutMs });
		log(Buffer.from(`== ${what}\n${result.stdout}${result.stderr}`));
		if (result.code !== 0) throw buildFailure(what, result.stderr.trim().split('\n').at(-1) || `status ${result.code}`);
		return result;
	};
	await inBuilder('waiting for the builder to boot', 'for i in $(seq 300); do [ -e /run/podlab-ready ] && exit 0; sleep 0.1; done; echo "podlab-lab-init did not finish" >&2; exit 1', 40_000);
	await inBuilder('building the kernel-log relay', `gcc -O2 -Wall -o ${RELAY_BINARY} ${RELAY_SOURCE}`, 120_000);
	await inBuilder('building the terminal relay', buildTerminalRelay(), 120_000);
	await pushHostImages(api, log);
	await inBuilder('loading the images', `podman load -i ${IMAGES_ARCHIVE} && rm -f ${IMAGES_ARCHIVE}`, 600_000);
	// The first pod builds podman's pause image; then check what the article needs: a pod, a 100 MiB limit.
	const busybox = labImage('busybox').reference;
	const check = await inBuilder(
		'running a pod with a 100 MiB container',
		[
			'podman pod create --name podlab-image-check >/dev/null',
			`podman run --rm --pod podlab-image-check --memory 100m ${busybox} sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes'`,
		].join(' && ') + '; status=$?; podman pod rm -f -t 0 podlab-image-check >/dev/null 2>&1; exit $status',
		180_000,
	);
	if (!check.stdout.includes('104857600')) throw buildFailure('running a pod with a 100 MiB container', `the container\u2019s limit was ${check.stdout.trim() || 'not printed'}`);
	await inBuilder('tidying up', 'podman system prune -f >/dev/null 2>&1; rm -rf /var/lib/containers/storage/libpod/events /var/log/* /root/.bash_history; true', 60_000);
	await api.call('PUT', `/1.0/instances/${IMAGE_BUILDER}/state`, { body: { action: 'stop', timeout: 30, force: false }, timeoutMs: 60_000 }).catch(() =>
		api.call('PUT', `/1.0/instances/${IMAGE_BUILDER}/state`, { body: { action: 'stop', force: true }, timeoutMs: 60_000 }),
	);
}

/** Saves the podman lab's images (one `podman save` archive, ~100 MB) into the builder. */
async function pushHostImages(api: IncusApi, log: (chunk: Buffer) => void): Promise<void> {
	const env = { ...process.env, CONTAINERS_CONF: CONTAINERS_CONF_PATH };
	const archive = join(INCUS_STATE_DIR, 'podlab-images.tar');
	await rm(archive, { force: true });
	try {
		const saved: RunResult = await run('podman', ['save', '-m', '-o', archive, ...LAB_IMAGES.map((image) => image.reference)], { env, timeoutMs: 300_000, onOutput: log });
		if (!succeeded(saved)) throw buildFailure('saving the host\u2019s images', describeFailure('podman save', saved));
		await api.pushFile(IMAGE_BUILDER, IMAGES_ARCHIVE, createReadStream(archive), { mode: 0o600, timeoutMs: 300_000 });
	} finally {
		await rm(archive, { force: true });
	}
}
