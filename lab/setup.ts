/**
 * `npm run lab:setup`: builds the offline podman lab on a Debian machine. Idempotent — every step
 * checks before it acts, so a second run only re-detects settings and re-runs the smoke check.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { SetupError, parseCli, requireRoot, runCli } from './lib/cli.ts';
import {
	chooseRuntime,
	chooseUlimits,
	probeConmonLimits,
	renderContainersConf,
	renderLabEnv,
	writeFileIfChanged,
} from './lib/container-settings.ts';
import { run } from './lib/exec.ts';
import { detectCgroupLayout, readOsRelease, type CgroupLayout } from './lib/host.ts';
import { buildImage, labImage, type LabImage } from './lib/images.ts';
import { findMissingPackages, installPackages, LAB_PACKAGES } from './lib/packages.ts';
import { CONTAINERS_CONF_PATH, LAB_ENV_PATH, LAB_STATE_DIR, LAB_WORK_DIR, SETUP_LOG_PATH } from './lib/paths.ts';
import { Progress } from './lib/progress.ts';
import { SetupStateRecorder } from './lib/setup-state.ts';
import { smokeCheck } from './lib/smoke-check.ts';
import { endpointSettingsFromEnv, loadEndpoint } from './incus/endpoint.ts';
import { INCUS_STEPS_MS, runIncusSteps, type IncusSetupMode } from './incus/host-setup.ts';
import { IncusApi } from './incus/incus-api.ts';
import { PROJECT } from './incus/names.ts';

const USAGE = `
Usage: npm run lab:setup [-- --rebuild] [-- --podman-only] [-- --member]

Builds podlab's offline podman lab on this Debian machine (needs root):
  1. checks the host (Debian packages via apt, cgroups with a memory controller)
  2. installs the missing Debian packages (apt-get update + install)
  3-6. builds the images busybox, alpine:3.2 (a busybox stand-in) and nginx:latest
     locally (no registry), and writes the settings this host needs to
     ${CONTAINERS_CONF_PATH} and ${LAB_ENV_PATH}
  7. checks the lab end to end (a pod, a 100 MiB container, a static gcc build)
  8-13. prepares a lab of one's own per reader (Incus): the packages incus-base and
     incus-client (from bookworm-backports on Debian 12: an apt source is added),
     btrfs-progs and lxcfs; an id range of Incus's own; the Incus daemon (a systemd
     unit where systemd runs the host, else a daemon podlab starts); a btrfs storage
     pool, the project "podlab" and its profiles; the lab image, built with debootstrap,
     with podman and the images above inside (see docs/labs.md)

For a class on several hosts (an Incus cluster, docs/self-hosting.md):
  --member       on each member: only Incus on this host (packages, id range, lxcfs, the daemon,
                 the kernel-log tree); then join it to the cluster with \`incus admin init\`
  PODLAB_INCUS_URL=https://<member>:8443 (with PODLAB_INCUS_CLIENT_CERT, _KEY, _SERVER_CERT)
                 on the gateway's machine: the podman lab here, then podlab's project, profiles
                 and lab image on that cluster

Safe to run again: built images and installed packages are kept (a second run takes seconds).

Options:
  --rebuild      rebuild the images and the lab image even if they are up to date
  --podman-only  stop after step 7: no labs of one's own (the gateway then uses the local backend)
  --member       prepare this host as a member of an Incus cluster (see above)
  -h, --help  show this help

Full output of the last run: ${SETUP_LOG_PATH}
`;

/**
 * How long steps 1–7 take on a fresh Debian 12 machine (2 cores; packages from the network), for
 * the time left that the page shows while the lab is prepared (the Incus steps: INCUS_STEPS_MS).
 */
const PODMAN_STEPS_MS = [100, 40_000, 1_000, 1_000, 1_000, 22_000, 3_000];

function imageStep(image: LabImage, rebuild: boolean, log: (chunk: Buffer) => void) {
	return async () => {
		const outcome = await buildImage(image, { force: rebuild, log });
		return outcome === 'cached' ? `${image.reference}, up to date` : `${image.reference}, built`;
	};
}

async function main(): Promise<number> {
	const options = parseCli(
		process.argv.slice(2),
		{ rebuild: { type: 'boolean', default: false }, 'podman-only': { type: 'boolean', default: false }, member: { type: 'boolean', default: false } },
		USAGE,
	);
	requireRoot('lab:setup', 'it installs Debian packages and builds images in the system\u2019s podman storage');

	await mkdir(LAB_STATE_DIR, { recursive: true });
	const logFile = createWriteStream(SETUP_LOG_PATH);
	const log = (chunk: Buffer) => logFile.write(chunk);
	// Before step 4 writes the podlab containers.conf, use the one from an earlier run if any.
	const confExists = await readFile(CONTAINERS_CONF_PATH).then(() => true, () => false);
	if (confExists) process.env.CONTAINERS_CONF = CONTAINERS_CONF_PATH;
	else delete process.env.CONTAINERS_CONF;

	const withLabs = !options['podman-only'];
	const endpointSettings = endpointSettingsFromEnv();
	const mode: IncusSetupMode = options.member ? 'member' : endpointSettings.incusUrl ? 'remote' : 'one-box';
	if (mode === 'member') {
		// A member runs labs; the images and the lab image are made from the gateway's machine.
		const progress = new Progress(INCUS_STEPS_MS.member.length);
		await runIncusSteps(progress, { mode, rebuild: false, log });
		await new Promise((resolve) => logFile.end(resolve));
		progress.finish('Cluster member ready (join it with `incus admin init`)');
		return 0;
	}
	// The gateway shows readers where this setup stands (lab/lib/setup-state.ts).
	const expectedMs = [...PODMAN_STEPS_MS, ...(withLabs ? INCUS_STEPS_MS[mode] : [])];
	const recorder = new SetupStateRecorder(expectedMs);
	try {
		await prepare(mode, options, withLabs, log, new Progress(expectedMs.length, { onEvent: recorder.onEvent }));
	} catch (error) {
		await recorder.fail((error as Error).message);
		await new Promise((resolve) => logFile.end(resolve));
		if (error instanceof SetupError) {
			const tail = (await readFile(SETUP_LOG_PATH, 'utf8').catch(() => '')).trim().split('\n').slice(-15);
			if (tail.length > 0 && tail[0] !== '') process.stderr.write(`\nLast lines of ${SETUP_LOG_PATH}:\n  ${tail.join('\n  ')}\n`);
		}
		throw error;
	}
	await new Promise((resolve) => logFile.end(resolve));
	await recorder.flushed();
	process.stdout.write(
		[
			`  containers.conf  ${CONTAINERS_CONF_PATH}`,
			`  lab shell env    ${LAB_ENV_PATH} (the gateway exports it; by hand: set -a; . ${LAB_ENV_PATH}; set +a)`,
			'  status           npm run lab:status',
			'',
		].join('\n'),
	);
	return 0;
}

/** Steps 1–7 (the podman lab) and, with labs, the Incus steps of `mode`; finishes `progress`. */
async function prepare(mode: IncusSetupMode, options: { rebuild: boolean }, withLabs: boolean, log: (chunk: Buffer) => void, progress: Progress): Promise<void> {
	const [busybox, alpine, nginx] = [labImage('busybox'), labImage('alpine'), labImage('nginx')];
	const remote = mode === 'remote' ? new IncusApi(await loadEndpoint(endpointSettingsFromEnv()), process.env.PODLAB_INCUS_PROJECT || PROJECT) : undefined;
	let cgroupLayout: CgroupLayout = 'none';
	try {
		await progress.step('Checking the host', async () => {
			const os = await readOsRelease();
			const apt = await run('apt-get', ['--version'], { timeoutMs: 5_000 });
			if (apt.spawnError) {
				throw new SetupError(
					'LAB_SETUP_UNSUPPORTED_HOST',
					`the podman lab is built from Debian packages, and this host (${os.PRETTY_NAME ?? 'unknown OS'}) has no apt-get.`,
					'use a Debian 12 machine for the podman lab, or provision a Kubernetes node with lab/provision/provision-node.sh',
				);
			}
			cgroupLayout = await detectCgroupLayout();
			const memoryController =
				cgroupLayout === 'v2'
					? (await readFile('/sys/fs/cgroup/cgroup.controllers', 'utf8').catch(() => '')).split(' ').includes('memory')
					: await readFile('/sys/fs/cgroup/memory/memory.limit_in_bytes').then(() => true, () => false);
			if (!memoryController) {
				throw new SetupError(
					'LAB_SETUP_UNSUPPORTED_HOST',
					`this host has no usable memory cgroup controller (cgroup layout: ${cgroupLayout}), and the article\u2019s memory limits need one.`,
					'run the lab on a machine (or VM) whose kernel mounts the memory controller, e.g. a stock Debian 12 VM',
				);
			}
			return `${os.PRETTY_NAME ?? 'unknown OS'}, cgroup ${cgroupLayout}`;
		});

		await progress.step('Installing Debian packages', async () => {
			const names = LAB_PACKAGES.map((pkg) => pkg.name);
			const missing = await findMissingPackages(names);
			if (missing.length === 0) return `all ${names.length} installed`;
			await installPackages(missing, log);
			const stillMissing = await findMissingPackages(names);
			if (stillMissing.length > 0) {
				throw new SetupError(
					'LAB_SETUP_APT',
					`apt-get finished, but these packages are still not installed: ${stillMissing.join(', ')}`,
					`run \`apt-get install ${stillMissing.join(' ')}\` by hand to see why, then rerun \`npm run lab:setup\``,
				);
			}
			return `installed ${missing.join(' ')}`;
		});

		await progress.step(`Image ${busybox.articleName}`, imageStep(busybox, options.rebuild, log));

		await progress.step('Detecting container settings', async () => {
			const { runtime, reason } = chooseRuntime(cgroupLayout);
			const conmonLimits = await probeConmonLimits(busybox.reference, runtime);
			const settings = { cgroupLayout, runtime, runtimeReason: reason, ulimits: chooseUlimits(conmonLimits) };
			const confChanged = await writeFileIfChanged(CONTAINERS_CONF_PATH, renderContainersConf(settings));
			const envChanged = await writeFileIfChanged(LAB_ENV_PATH, renderLabEnv());
			await mkdir(LAB_WORK_DIR, { recursive: true });
			process.env.CONTAINERS_CONF = CONTAINERS_CONF_PATH;
			const written = confChanged || envChanged ? 'written' : 'unchanged';
			return `runtime ${runtime ?? 'default'}, nofile ${settings.ulimits.nofile}, nproc ${settings.ulimits.nproc}; ${written}`;
		});

		await progress.step(`Image ${alpine.articleName} (stand-in)`, imageStep(alpine, options.rebuild, log));
		await progress.step(`Image ${nginx.articleName}`, imageStep(nginx, options.rebuild, log));
		await progress.step('Checking the lab end to end', () => smokeCheck(log));
		if (withLabs) await runIncusSteps(progress, { mode, api: remote, rebuild: options.rebuild, log });
	} finally {
		remote?.close();
	}
	progress.finish('Lab ready');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runCli(main);
