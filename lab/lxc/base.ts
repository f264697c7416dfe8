/**
 * The lab base: a Debian root filesystem built offline with debootstrap from Debian's packages
 * (the mirror apt uses), with podman, its tools and the article's images inside, as a read-only
 * btrfs subvolume that every lab is a snapshot of.
 *
 * The images are the ones lab:setup builds for the podman lab (lab/lib/images.ts), saved from the
 * host's podman and loaded by the podman inside a throwaway lab made from the new base, which also
 * builds podman's pause image there and runs a pod: a base that cannot run the article is not kept.
 * The base carries a hash of its recipe; one that matches is not rebuilt.
 */
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SetupError } from '../lib/cli.ts';
import { describeFailure, run, succeeded, type RunResult } from '../lib/exec.ts';
import { debianMirror, debianSuite, labImage, LAB_IMAGES } from '../lib/images.ts';
import { CONTAINERS_CONF_PATH, LAB_SOURCE_DIR, SETUP_LOG_PATH } from '../lib/paths.ts';
import { labDir, renderLabConfig, DEFAULT_LAB_LIMITS } from './lab-config.ts';
import { BASE_BUILD_DIR, BASE_DIR, BASE_RECIPE_FILE, BOOTSTRAP_BUILD_DIR, BOOTSTRAP_DIR, BOOTSTRAP_RECIPE_FILE, LABS_DIR } from './paths.ts';
import { createSubvolume, deleteSubvolume, isSubvolume, snapshot } from './pool.ts';

/** Bump when the base is assembled differently. */
const BASE_RECIPE_VERSION = 1;

/** The Debian packages of the base (debootstrap --include), with why each is there. */
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
	{ name: 'gcc', why: 'builds the OOM chapter\u2019s memory stress program' },
	{ name: 'libc6-dev', why: 'static libc for `gcc -static`' },
	{ name: 'tmux', why: 'keeps the lab\u2019s shells alive across gateway restarts' },
	{ name: 'jq', why: 'reading `podman inspect` JSON' },
	{ name: 'less', why: 'a pager for readers' },
];

/** Name of the throwaway lab that loads the images into a new base. */
export const BASE_BUILDER = 'podlab-base-builder';
/** The base builder's id range (slot 0 is never a reader's lab). */
const BUILDER_SLOT = 0;

const FILES_DIR = join(LAB_SOURCE_DIR, 'lxc/files');
const IMAGES_ARCHIVE = 'var/tmp/podlab-images.tar';

/** The containers.conf of every lab: the lab is a machine of its own, so its /etc is podlab's. */
export function renderLabContainersConf(): string {
	return `# podman's settings in a podlab lab (lab/lxc/base.ts). Limits: containers.conf.d/, written at lab start.
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

const STORAGE_CONF = `# podman's storage in a podlab lab (lab/lxc/base.ts).
[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
`;

/** The recipe hash: packages, suite, the files podlab puts in, the images' ids. */
export async function baseRecipe(imageIds: readonly string[]): Promise<string> {
	const files = await Promise.all(['podlab-lab-init.sh', 'dmesg.sh'].map((name) => readFile(join(FILES_DIR, name), 'utf8')));
	const recipe = JSON.stringify({
		version: BASE_RECIPE_VERSION,
		bootstrap: await bootstrapRecipe(),
		files,
		containersConf: renderLabContainersConf(),
		storage: STORAGE_CONF,
		imageIds,
	});
	return createHash('sha256').update(recipe).digest('hex').slice(0, 16);
}

/** Ids of the host's lab images (what the base would load), or null when one is missing. */
export async function hostImageIds(): Promise<string[] | null> {
	const env = { ...process.env, CONTAINERS_CONF: CONTAINERS_CONF_PATH };
	const result = await run('podman', ['image', 'inspect', '--format', '{{.Id}}', ...LAB_IMAGES.map((image) => image.reference)], { env, timeoutMs: 15_000 });
	if (!succeeded(result)) return null;
	return result.stdout.trim().split('\n');
}

/** The recipe of the current base, or null when there is none. */
export async function currentBaseRecipe(): Promise<string | null> {
	if (!(await isSubvolume(BASE_DIR))) return null;
	return (await readFile(BASE_RECIPE_FILE, 'utf8').catch(() => '')).trim() || null;
}

function buildFailure(what: string, command: string, result: RunResult): SetupError {
	return new SetupError(
		'LAB_SETUP_IMAGE_BUILD',
		`building the lab base failed while ${what}: ${describeFailure(command, result)}`,
		`read ${SETUP_LOG_PATH}, fix the cause, then rerun \`npm run lab:setup\``,
	);
}

/**
 * Builds the base unless the current one has this recipe (or `force`). Returns "up to date" or
 * what was built.
 */
export async function ensureBase(options: { force: boolean; log: (chunk: Buffer) => void; step: (what: string) => void }): Promise<string> {
	const imageIds = await hostImageIds();
	if (!imageIds) {
		throw new SetupError('LAB_SETUP_IMAGE_BUILD', 'the podman lab\u2019s images are missing on the host', 'run `npm run lab:setup` (it builds them first)');
	}
	const recipe = await baseRecipe(imageIds);
	if (!options.force && (await currentBaseRecipe()) === recipe) return 'up to date';

	await stopBuilder();
	const bootstrapped = await ensureBootstrap(options.force, options.log);
	await deleteSubvolume(BASE_BUILD_DIR);
	await snapshot(BOOTSTRAP_DIR, BASE_BUILD_DIR);
	await installFiles(recipe);
	options.step('loading the images');
	await loadImages(options.log);
	await deleteSubvolume(BASE_DIR);
	await snapshot(BASE_BUILD_DIR, BASE_DIR, { readOnly: true });
	await deleteSubvolume(BASE_BUILD_DIR);
	return `built (debootstrap ${bootstrapped}), recipe ${recipe}`;
}

/** The recipe of debootstrap's part: the Debian release and the package list. */
async function bootstrapRecipe(): Promise<string> {
	const recipe = JSON.stringify({ version: BASE_RECIPE_VERSION, suite: await debianSuite(), packages: BASE_PACKAGES.map((pkg) => pkg.name) });
	return createHash('sha256').update(recipe).digest('hex').slice(0, 16);
}

/** Runs debootstrap unless its result for this recipe is kept; returns "kept" or how long it took. */
async function ensureBootstrap(force: boolean, log: (chunk: Buffer) => void): Promise<string> {
	const recipe = await bootstrapRecipe();
	const kept = (await readFile(BOOTSTRAP_RECIPE_FILE, 'utf8').catch(() => '')).trim();
	if (!force && kept === recipe) return 'kept';
	const started = performance.now();
	await deleteSubvolume(BOOTSTRAP_BUILD_DIR);
	await createSubvolume(BOOTSTRAP_BUILD_DIR);
	await bootstrap(log);
	await writeFile(join(BOOTSTRAP_BUILD_DIR, 'etc/podlab-bootstrap-recipe'), `${recipe}\n`);
	await deleteSubvolume(BOOTSTRAP_DIR);
	await snapshot(BOOTSTRAP_BUILD_DIR, BOOTSTRAP_DIR, { readOnly: true });
	await deleteSubvolume(BOOTSTRAP_BUILD_DIR);
	return `${((performance.now() - started) / 1000).toFixed(0)}s`;
}

async function bootstrap(log: (chunk: Buffer) => void): Promise<void> {
	const [suite, mirror] = [await debianSuite(), await debianMirror()];
	// Shared with the nginx image's debootstrap: a package already fetched is not fetched again.
	const cache = '/var/cache/podlab/debs';
	await mkdir(cache, { recursive: true });
	const include = BASE_PACKAGES.map((pkg) => pkg.name).join(',');
	const result = await run('debootstrap', ['--variant=minbase', `--include=${include}`, `--cache-dir=${cache}`, suite, BOOTSTRAP_BUILD_DIR, mirror], {
		timeoutMs: 1_800_000,
		onOutput: log,
	});
	if (!succeeded(result)) throw buildFailure(`running debootstrap ${suite} from ${mirror}`, 'debootstrap', result);
	// debootstrap leaves its package cache and lists: 100+ MB the labs never read.
	for (const path of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
		await rm(join(BOOTSTRAP_BUILD_DIR, path), { recursive: true, force: true });
		await mkdir(join(BOOTSTRAP_BUILD_DIR, path), { recursive: true });
	}
}

async function installFiles(recipe: string): Promise<void> {
	const root = BASE_BUILD_DIR;
	await mkdir(join(root, 'etc/containers'), { recursive: true });
	await writeFile(join(root, 'etc/containers/containers.conf'), renderLabContainersConf());
	await writeFile(join(root, 'etc/containers/storage.conf'), STORAGE_CONF);
	for (const [name, target] of [['podlab-lab-init.sh', 'usr/local/sbin/podlab-lab-init'], ['dmesg.sh', 'usr/local/bin/dmesg']] as const) {
		await mkdir(join(root, target, '..'), { recursive: true });
		await copyFile(join(FILES_DIR, name), join(root, target));
		await chmod(join(root, target), 0o755);
	}
	await writeFile(join(root, 'etc/hosts'), '127.0.0.1 localhost\n::1 localhost\n');
	// No network: an empty resolv.conf makes name lookups fail at once instead of timing out.
	await writeFile(join(root, 'etc/resolv.conf'), '');
	await writeFile(join(root, 'etc/hostname'), 'podlab-lab\n');
	await writeFile(join(root, 'etc/podlab-base-recipe'), `${recipe}\n`);
}

/** Runs `command` in the builder lab. */
function inBuilder(command: string, timeoutMs = 300_000, log?: (chunk: Buffer) => void): Promise<RunResult> {
	return run('lxc-attach', ['-P', LABS_DIR, '-n', BASE_BUILDER, '--clear-env', '--set-var', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '--', 'sh', '-c', command], { timeoutMs, onOutput: log });
}

async function stopBuilder(): Promise<void> {
	await run('lxc-stop', ['-P', LABS_DIR, '-n', BASE_BUILDER, '--kill'], { timeoutMs: 30_000 });
	await rm(labDir(BASE_BUILDER), { recursive: true, force: true });
}

async function loadImages(log: (chunk: Buffer) => void): Promise<void> {
	const env = { ...process.env, CONTAINERS_CONF: CONTAINERS_CONF_PATH };
	const archive = join(BASE_BUILD_DIR, IMAGES_ARCHIVE);
	const saved = await run('podman', ['save', '-m', '-o', archive, ...LAB_IMAGES.map((image) => image.reference)], { env, timeoutMs: 300_000, onOutput: log });
	if (!succeeded(saved)) throw buildFailure('saving the host\u2019s images', 'podman save', saved);

	await mkdir(labDir(BASE_BUILDER), { recursive: true });
	const config = renderLabConfig({ name: BASE_BUILDER, slot: BUILDER_SLOT, limits: DEFAULT_LAB_LIMITS, rootfs: BASE_BUILD_DIR, kernelLog: false });
	await writeFile(join(labDir(BASE_BUILDER), 'config'), config);
	try {
		const started = await run('lxc-start', ['-P', LABS_DIR, '-n', BASE_BUILDER], { timeoutMs: 60_000, onOutput: log });
		if (!succeeded(started)) throw buildFailure('starting a lab from the new base', 'lxc-start', started);
		const ready = await inBuilder('for i in $(seq 100); do [ -e /run/podlab-ready ] && exit 0; sleep 0.1; done; exit 1', 30_000);
		if (!succeeded(ready)) throw buildFailure('waiting for the new base to boot', 'podlab-lab-init', ready);
		const loaded = await inBuilder(`podman load -i /${IMAGES_ARCHIVE} && rm -f /${IMAGES_ARCHIVE}`, 300_000, log);
		if (!succeeded(loaded)) throw buildFailure('loading the images in the base', 'podman load', loaded);
		// The first pod builds podman's pause image; then check what the article needs: a pod, a 100 MiB limit.
		const busybox = labImage('busybox').reference;
		const check = await inBuilder(
			[
				'podman pod create --name podlab-base-check >/dev/null',
				`podman run --rm --pod podlab-base-check --memory 100m ${busybox} sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes'`,
			].join(' && ') + '; status=$?; podman pod rm -f -t 0 podlab-base-check >/dev/null 2>&1; exit $status',
			120_000,
			log,
		);
		if (!succeeded(check) || !check.stdout.includes('104857600')) throw buildFailure('running a pod with a 100 MiB container in the base', 'podman run', check);
		await inBuilder('podman system prune -f >/dev/null 2>&1; rm -rf /var/lib/containers/storage/libpod/events /var/log/* /root/.bash_history', 60_000);
	} finally {
		await stopBuilder();
	}
}
