/**
 * The container settings this host needs, detected rather than assumed, and the podlab-owned
 * containers.conf and lab.env that carry them. The system's /etc/containers stays untouched;
 * lab shells get CONTAINERS_CONF from lab.env, which the gateway exports.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { SetupError } from './cli.ts';
import { describeFailure, run, succeeded } from './exec.ts';
import { readProcessLimits, type CgroupLayout } from './host.ts';
import { CONTAINERS_CONF_PATH, LAB_ENV_PATH, LAB_WORK_DIR } from './paths.ts';

/** podman's own default for nofile and nproc in rootful containers; never ask for more. */
export const PODMAN_DEFAULT_ULIMIT = 1_048_576;

export const containerSettingsSchema = z.object({
	cgroupLayout: z.enum(['v1', 'v2', 'hybrid', 'none']),
	/** OCI runtime to pin, or null to leave podman's default. */
	runtime: z.enum(['runc']).nullable(),
	runtimeReason: z.string(),
	/** default_ulimits for containers: at or below what conmon itself runs with. */
	ulimits: z.object({ nofile: z.number().int().positive(), nproc: z.number().int().positive() }),
});
export type ContainerSettings = z.infer<typeof containerSettingsSchema>;

/**
 * runc for cgroup v1 and hybrid layouts: crun refuses the hybrid one ("cgroup v2 is not fully
 * enabled"), and podman would pick crun whenever it is installed. On pure v2 podman's choice is fine.
 */
export function chooseRuntime(layout: CgroupLayout): { runtime: 'runc' | null; reason: string } {
	if (layout === 'v2') return { runtime: null, reason: 'cgroup v2: podman\u2019s default runtime works' };
	return { runtime: 'runc', reason: `cgroup ${layout}: crun refuses this layout, runc handles it` };
}

/**
 * Container ulimits from conmon's hard limits: the container's init inherits them from conmon
 * (through runc), and a host without CAP_SYS_RESOURCE cannot raise them, so podman's default of
 * 1048576 fails with "error setting rlimit … operation not permitted".
 */
export function chooseUlimits(conmon: { nofileHard: number; nprocHard: number }): ContainerSettings['ulimits'] {
	return {
		nofile: Math.min(conmon.nofileHard, PODMAN_DEFAULT_ULIMIT),
		nproc: Math.min(conmon.nprocHard, PODMAN_DEFAULT_ULIMIT),
	};
}

/**
 * Starts a throwaway container with small explicit ulimits (which any host grants) and reads the
 * limits of its conmon from /proc: what podman really gives conmon, which differs from the
 * shell's own limits (podman lowers RLIMIT_NPROC at start-up on some hosts).
 */
export async function probeConmonLimits(image: string, runtime: 'runc' | null): Promise<{ nofileHard: number; nprocHard: number }> {
	const env = { ...process.env };
	// A containers.conf from an earlier setup may hold the very values being re-detected.
	delete env.CONTAINERS_CONF;
	const name = `podlab-probe-${process.pid}`;
	const runtimeArgs = runtime ? ['--runtime', runtime] : [];
	const started = await run(
		'podman',
		[...runtimeArgs, 'run', '-d', '--rm', '--name', name, '--network', 'none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', image, 'sleep', '60'],
		{ env, timeoutMs: 60_000 },
	);
	try {
		if (!succeeded(started)) {
			throw new SetupError(
				'LAB_SETUP_HOST_SETTINGS',
				`could not start a probe container: ${describeFailure('podman run', started)}`,
				'run `podman --runtime runc run --rm --network none busybox true` to see the error; `npm run lab:status` lists what is missing',
			);
		}
		const inspected = await run('podman', ['inspect', '--format', '{{.State.ConmonPid}}', name], { env, timeoutMs: 15_000 });
		const conmonPid = Number(inspected.stdout.trim());
		if (!succeeded(inspected) || !Number.isInteger(conmonPid) || conmonPid <= 0) {
			throw new SetupError(
				'LAB_SETUP_HOST_SETTINGS',
				`could not find the probe container's conmon: ${describeFailure('podman inspect', inspected)}`,
				'check `podman ps` and rerun `npm run lab:setup`',
			);
		}
		const limits = await readProcessLimits(conmonPid);
		return { nofileHard: limits.nofile.hard, nprocHard: limits.nproc.hard };
	} finally {
		await run('podman', ['rm', '-f', '-t', '0', name], { env, timeoutMs: 30_000 });
	}
}

/** The podlab containers.conf for `settings`; comments say why each setting is there. */
export function renderContainersConf(settings: ContainerSettings): string {
	const lines = [
		'# podlab\u2019s containers.conf, written by `npm run lab:setup` from what it detected on this host.',
		`# Used through CONTAINERS_CONF=${CONTAINERS_CONF_PATH} (exported into lab shells from ${LAB_ENV_PATH});`,
		'# podman then reads this file instead of /etc/containers/containers.conf, which podlab never edits.',
		'# Every lab:setup rewrites it: change lab/lib/container-settings.ts, not this file.',
		'',
		'[containers]',
		'# Kept at or below the hard limits conmon runs with here (the container inherits them); podman\u2019s',
		`# default of ${PODMAN_DEFAULT_ULIMIT} fails on hosts that cannot raise limits ("error setting rlimit").`,
		'default_ulimits = [',
		`  "nofile=${settings.ulimits.nofile}:${settings.ulimits.nofile}",`,
		`  "nproc=${settings.ulimits.nproc}:${settings.ulimits.nproc}",`,
		']',
		'',
		'[engine]',
	];
	if (settings.runtime) {
		lines.push(`# ${settings.runtimeReason}.`, `runtime = "${settings.runtime}"`);
	} else {
		lines.push(`# No runtime pinned (${settings.runtimeReason}).`);
	}
	return `${lines.join('\n')}\n`;
}

/** The env file the gateway exports into every lab shell (dotenv syntax, read with util.parseEnv). */
export function renderLabEnv(): string {
	return [
		'# Exported into every podlab lab shell by the gateway (its labEnvFile). Written by `npm run lab:setup`.',
		`CONTAINERS_CONF=${CONTAINERS_CONF_PATH}`,
		`PODLAB_LAB_DIR=${LAB_WORK_DIR}`,
		'',
	].join('\n');
}

/** Writes `content` to `path` atomically; leaves the file (and its mtime) alone if unchanged. */
export async function writeFileIfChanged(path: string, content: string): Promise<boolean> {
	const current = await readFile(path, 'utf8').catch(() => null);
	if (current === content) return false;
	await mkdir(dirname(path), { recursive: true });
	const temporary = `${path}.${process.pid}.tmp`;
	await writeFile(temporary, content, { mode: 0o644 });
	await rename(temporary, path);
	return true;
}
