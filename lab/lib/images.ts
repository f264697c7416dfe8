/**
 * The lab's container images, built locally because no image registry is reachable: a root
 * filesystem is assembled on the host and `podman import`ed under the name podman resolves the
 * article's short names to (`alpine:3.2` → docker.io/library/alpine:3.2), so the article's YAML
 * with `imagePullPolicy: IfNotPresent` finds them and never pulls.
 *
 * Each image carries a label with a hash of its recipe and inputs; a build whose hash matches
 * the tagged image is skipped, which makes a second `lab:setup` fast.
 */
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SetupError } from './cli.ts';
import { describeFailure, run, succeeded } from './exec.ts';
import { readOsRelease } from './host.ts';
import { BUILD_DIR, LAB_SOURCE_DIR, SETUP_LOG_PATH } from './paths.ts';

/** Bump to rebuild every image after a change to how images are assembled. */
const RECIPE_VERSION = 1;

/** Label holding the recipe hash on every podlab image. */
export const RECIPE_LABEL = 'io.podlab.recipe';

const BUSYBOX_BINARY = '/bin/busybox';
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface LabImage {
	/** Short name used in logs and lab:status. */
	name: 'busybox' | 'alpine' | 'nginx';
	/** Fully qualified name podman resolves the article's short name to. */
	reference: string;
	/** The article's spelling of the image. */
	articleName: string;
	/** Dockerfile-style instructions for `podman import --change`; PATH first, as import sets none. */
	changes: readonly string[];
	/** Everything the root filesystem depends on, hashed into the recipe label. */
	inputs: () => Promise<string>;
	/** Assembles the root filesystem in `rootfs`; `log` receives command output. */
	assemble: (rootfs: string, log: (chunk: Buffer) => void) => Promise<void>;
}

/** Where debootstrap fetches Debian from: PODLAB_DEBIAN_MIRROR, else the host's apt source. */
export async function debianMirror(): Promise<string> {
	if (process.env.PODLAB_DEBIAN_MIRROR) return process.env.PODLAB_DEBIAN_MIRROR;
	const sources = [
		await readFile('/etc/apt/sources.list.d/debian.sources', 'utf8').catch(() => ''),
		await readFile('/etc/apt/sources.list', 'utf8').catch(() => ''),
	].join('\n');
	const uris = [...sources.matchAll(/^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)/gm)].map((match) => match[1] ?? '');
	return uris.find((uri) => /\/debian\/?$/.test(uri)) ?? 'http://deb.debian.org/debian';
}

/** Debian release of the nginx image: PODLAB_DEBIAN_SUITE, else the host's own, else bookworm. */
export async function debianSuite(): Promise<string> {
	if (process.env.PODLAB_DEBIAN_SUITE) return process.env.PODLAB_DEBIAN_SUITE;
	const os = await readOsRelease();
	return os.ID === 'debian' && os.VERSION_CODENAME ? os.VERSION_CODENAME : 'bookworm';
}

async function busyboxVersion(): Promise<string> {
	const banner = await run(BUSYBOX_BINARY, [], { timeoutMs: 5_000 });
	return banner.stdout.match(/BusyBox v(\S+)/)?.[1] ?? 'unknown';
}

async function fileHash(path: string): Promise<string> {
	return createHash('sha256').update(await readFile(path)).digest('hex');
}

/**
 * A minimal busybox root: the static binary, a link per applet, root and nobody, and an
 * os-release that says what the image is.
 */
async function assembleBusyboxRoot(rootfs: string, osRelease: string): Promise<void> {
	await mkdir(join(rootfs, 'bin'), { recursive: true });
	await copyFile(BUSYBOX_BINARY, join(rootfs, 'bin/busybox'));
	await chmod(join(rootfs, 'bin/busybox'), 0o755);
	const applets = await run(BUSYBOX_BINARY, ['--list-full'], { timeoutMs: 5_000 });
	if (!succeeded(applets)) throw new Error(describeFailure('busybox --list-full', applets));
	for (const applet of applets.stdout.split('\n').filter(Boolean)) {
		if (applet === 'bin/busybox') continue;
		await mkdir(join(rootfs, dirname(applet)), { recursive: true });
		await symlink('/bin/busybox', join(rootfs, applet));
	}
	for (const dir of ['etc', 'root', 'tmp', 'var/log', 'var/tmp', 'proc', 'sys', 'dev', 'run']) {
		await mkdir(join(rootfs, dir), { recursive: true });
	}
	await chmod(join(rootfs, 'tmp'), 0o1777);
	await chmod(join(rootfs, 'var/tmp'), 0o1777);
	await chmod(join(rootfs, 'root'), 0o700);
	await writeFile(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
	await writeFile(join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
	await writeFile(join(rootfs, 'etc/os-release'), osRelease);
}

async function busyboxOsRelease(): Promise<string> {
	const version = await busyboxVersion();
	return [
		'NAME="podlab busybox"',
		'ID=podlab-busybox',
		`VERSION_ID=${version}`,
		`PRETTY_NAME="podlab busybox image: BusyBox ${version} from Debian's busybox-static, built locally by podlab"`,
		'',
	].join('\n');
}

/** Says plainly that this is not Alpine Linux, to anyone who runs `cat /etc/os-release`. */
async function alpineStandInOsRelease(): Promise<string> {
	const version = await busyboxVersion();
	return [
		'NAME="podlab alpine:3.2 stand-in"',
		'ID=podlab-alpine-standin',
		'VERSION_ID=3.2',
		`PRETTY_NAME="podlab stand-in for alpine:3.2 (not Alpine Linux): BusyBox ${version} from Debian's busybox-static"`,
		'',
	].join('\n');
}

const NGINX_CONF = join(LAB_SOURCE_DIR, 'images/nginx/default.conf');

/** Paths dropped from the nginx root: package lists, caches and docs the image never reads. */
const NGINX_TRIM = ['var/cache/apt', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale'];

async function assembleNginxRoot(rootfs: string, log: (chunk: Buffer) => void): Promise<void> {
	const suite = await debianSuite();
	const mirror = await debianMirror();
	const debCache = join(dirname(BUILD_DIR), 'debs');
	await mkdir(debCache, { recursive: true });
	log(Buffer.from(`debootstrap ${suite} from ${mirror}\n`));
	const bootstrap = await run(
		'debootstrap',
		['--variant=minbase', '--include=nginx', `--cache-dir=${debCache}`, suite, rootfs, mirror],
		{ timeoutMs: 900_000, onOutput: log },
	);
	if (!succeeded(bootstrap)) {
		throw new SetupError(
			'LAB_SETUP_IMAGE_BUILD',
			`debootstrap of the nginx image failed: ${describeFailure('debootstrap', bootstrap)}`,
			`check that ${mirror} is reachable (or set PODLAB_DEBIAN_MIRROR), read ${SETUP_LOG_PATH}, then rerun \`npm run lab:setup\``,
		);
	}
	await rm(join(rootfs, 'etc/nginx/sites-enabled/default'), { force: true });
	await copyFile(NGINX_CONF, join(rootfs, 'etc/nginx/conf.d/default.conf'));
	for (const path of NGINX_TRIM) {
		const full = join(rootfs, path);
		for (const entry of await readdir(full).catch(() => [])) await rm(join(full, entry), { recursive: true, force: true });
	}
}

export const LAB_IMAGES: readonly LabImage[] = [
	{
		name: 'busybox',
		reference: 'docker.io/library/busybox:latest',
		articleName: 'busybox',
		changes: [`ENV ${PATH_ENV}`, 'CMD ["sh"]'],
		inputs: async () => `${await fileHash(BUSYBOX_BINARY)}\n${await busyboxOsRelease()}`,
		assemble: async (rootfs) => assembleBusyboxRoot(rootfs, await busyboxOsRelease()),
	},
	{
		name: 'alpine',
		reference: 'docker.io/library/alpine:3.2',
		articleName: 'alpine:3.2',
		changes: [`ENV ${PATH_ENV}`, 'CMD ["/bin/sh"]'],
		inputs: async () => `${await fileHash(BUSYBOX_BINARY)}\n${await alpineStandInOsRelease()}`,
		assemble: async (rootfs) => assembleBusyboxRoot(rootfs, await alpineStandInOsRelease()),
	},
	{
		name: 'nginx',
		reference: 'docker.io/library/nginx:latest',
		articleName: 'nginx:latest',
		changes: [`ENV ${PATH_ENV}`, 'EXPOSE 80/tcp', 'STOPSIGNAL SIGQUIT', 'CMD ["nginx", "-g", "daemon off;"]'],
		// The mirror is left out: the same suite from another mirror is the same image.
		inputs: async () => `${await debianSuite()}\nnginx minbase\n${await readFile(NGINX_CONF, 'utf8')}\n${NGINX_TRIM.join(',')}`,
		assemble: assembleNginxRoot,
	},
];

/** The lab image called `name`. */
export function labImage(name: LabImage['name']): LabImage {
	const image = LAB_IMAGES.find((candidate) => candidate.name === name);
	if (!image) throw new Error(`no lab image called ${name}`);
	return image;
}

/** The recipe hash of `image` as built from the current inputs. */
export async function recipeHash(image: LabImage): Promise<string> {
	const recipe = JSON.stringify({ version: RECIPE_VERSION, reference: image.reference, changes: image.changes, inputs: await image.inputs() });
	return createHash('sha256').update(recipe).digest('hex').slice(0, 16);
}

/** ID and recipe label of the image tagged `reference`, or null when there is none. */
export async function inspectImage(
	reference: string,
	options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ id: string; recipe: string } | null> {
	const format = `{{.Id}}\t{{index .Labels "${RECIPE_LABEL}"}}`;
	const result = await run('podman', ['image', 'inspect', '--format', format, reference], {
		timeoutMs: options.timeoutMs ?? 15_000,
		env: options.env,
	});
	if (!succeeded(result)) return null;
	const [id = '', recipe = ''] = result.stdout.trim().split('\t');
	// Go templates print a missing label as "<no value>": an image podlab did not build.
	return { id, recipe: recipe === '<no value>' ? '' : recipe };
}

/**
 * Builds `image` unless the tagged image already has the current recipe hash (or `force`).
 * Returns "cached" or "built".
 */
export async function buildImage(image: LabImage, options: { force: boolean; log: (chunk: Buffer) => void }): Promise<'cached' | 'built'> {
	const hash = await recipeHash(image);
	const existing = await inspectImage(image.reference);
	if (!options.force && existing?.recipe === hash) return 'cached';

	const workDir = join(BUILD_DIR, image.name);
	const rootfs = join(workDir, 'rootfs');
	const tarball = join(workDir, 'rootfs.tar');
	await rm(workDir, { recursive: true, force: true });
	await mkdir(rootfs, { recursive: true });
	try {
		await image.assemble(rootfs, options.log);
		const packed = await run('tar', ['--numeric-owner', '-C', rootfs, '-cf', tarball, '.'], { timeoutMs: 300_000, onOutput: options.log });
		if (!succeeded(packed)) throw new Error(describeFailure('tar', packed));
		const changes = [...image.changes, `LABEL ${RECIPE_LABEL}=${hash}`].flatMap((change) => ['--change', change]);
		const imported = await run('podman', ['import', ...changes, tarball, image.reference], { timeoutMs: 300_000, onOutput: options.log });
		if (!succeeded(imported)) throw new Error(describeFailure('podman import', imported));
	} catch (cause) {
		if (cause instanceof SetupError) throw cause;
		throw new SetupError(
			'LAB_SETUP_IMAGE_BUILD',
			`building the ${image.name} image failed: ${(cause as Error).message}`,
			`read ${SETUP_LOG_PATH}, fix the cause, then rerun \`npm run lab:setup\` (add \`--rebuild\` to start the images afresh)`,
			{ cause },
		);
	} finally {
		await rm(workDir, { recursive: true, force: true });
	}
	// The previous build lost its tag; drop it unless a container still uses it (rmi then fails).
	const rebuilt = await inspectImage(image.reference);
	if (existing?.id && existing.id !== rebuilt?.id) await run('podman', ['rmi', existing.id], { timeoutMs: 30_000 });
	return 'built';
}
