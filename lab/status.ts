/**
 * What lab this machine offers: `detectLab()` (imported by the gateway for `GET /api/lab`) and the
 * `npm run lab:status` CLI. Detection never throws and answers in well under a second: every
 * command runs with a short timeout, all of them at once.
 */
import { access } from 'node:fs/promises';
import { constants } from 'node:fs';
import { homedir, release } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseCli, runCli } from './lib/cli.ts';
import { run, succeeded } from './lib/exec.ts';
import { detectCgroupLayout, readOsRelease } from './lib/host.ts';
import { inspectImage, LAB_IMAGES, recipeHash } from './lib/images.ts';
import { findMissingPackages, LAB_PACKAGES } from './lib/packages.ts';
import { CONTAINERS_CONF_PATH, LAB_ENV_PATH, LAB_WORK_DIR } from './lib/paths.ts';
import { endpointSettingsFromEnv, loadEndpoint } from './incus/endpoint.ts';
import type { IncusEndpoint } from './incus/incus-api.ts';
import { detectIncusLabs, incusStatusSchema, type IncusStatus } from './incus/status.ts';
import { LAB_PROFILES } from '../src/protocol-values.ts';

/** Timeout of each command detection runs; they run in parallel, so this bounds the whole. */
const COMMAND_TIMEOUT_MS = 800;

/** The lab this machine is: one of the chapters' profiles, or none. */
export const labProfileSchema = z.enum([...LAB_PROFILES, 'none']);
export type MachineProfile = z.infer<typeof labProfileSchema>;

export const labCheckSchema = z.object({
	/** Stable id, e.g. "podman", "image:alpine", "packages". */
	id: z.string(),
	/** What is checked, in plain words. */
	label: z.string(),
	ok: z.boolean(),
	/** What was found (a version, the missing items). */
	detail: z.string().optional(),
	/** What to do when `ok` is false. */
	fix: z.string().optional(),
});
export type LabCheck = z.infer<typeof labCheckSchema>;

export const labStatusSchema = z.object({
	profile: labProfileSchema,
	/** "env" when PODLAB_LAB_PROFILE chose the profile, "detected" otherwise. */
	profileSource: z.enum(['env', 'detected']),
	/** True when every check passed: the chapters of this profile can run. */
	ready: z.boolean(),
	/** One plain-language sentence for people. */
	summary: z.string(),
	host: z.object({
		os: z.string(),
		kernel: z.string(),
		cgroup: z.enum(['v1', 'v2', 'hybrid', 'none']),
		root: z.boolean(),
	}),
	/** Versions of the lab's tools that were found, e.g. { podman: "4.3.1" }. */
	versions: z.record(z.string(), z.string()),
	checks: z.array(labCheckSchema),
	/** Files lab shells need (podman profile): the gateway exports `envFile` into every shell. */
	paths: z.object({ containersConf: z.string(), envFile: z.string(), workDir: z.string() }),
	/** Labs of one's own (the incus backend): available here, the Incus podlab talks to, how many labs run, what is missing. */
	incus: incusStatusSchema,
	checkedAt: z.string(),
	durationMs: z.number(),
});
export type LabStatus = z.infer<typeof labStatusSchema>;

const KUBECONFIG_CANDIDATES = ['/etc/rancher/k3s/k3s.yaml', '/etc/kubernetes/admin.conf', join(homedir(), '.kube/config')];

const exists = (path: string) => access(path, constants.F_OK).then(() => true, () => false);

/** Absolute path of `command` on PATH, or null. */
async function which(command: string): Promise<string | null> {
	for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
		const candidate = join(dir, command);
		if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
	}
	return null;
}

async function findKubeconfig(): Promise<string | null> {
	const candidates = [...(process.env.KUBECONFIG?.split(delimiter).filter(Boolean) ?? []), ...KUBECONFIG_CANDIDATES];
	for (const candidate of candidates) if (await exists(candidate)) return candidate;
	return null;
}

/** First version-looking word of a command's output, or null if it did not run. */
async function versionOf(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string | null> {
	const result = await run(command, args, { timeoutMs: COMMAND_TIMEOUT_MS, env });
	if (!succeeded(result)) return null;
	return result.stdout.match(/v?(\d+\.\d+(?:\.\d+)?[^\s",]*)/)?.[1] ?? null;
}

/** Checks that the commands the chapters type exist. */
async function toolChecks(tools: ReadonlyArray<{ command: string; label: string; fix: string }>): Promise<LabCheck[]> {
	return Promise.all(
		tools.map(async ({ command, label, fix }) => {
			const path = await which(command);
			return path
				? { id: `tool:${command}`, label, ok: true, detail: path }
				: { id: `tool:${command}`, label, ok: false, detail: 'not found on PATH', fix };
		}),
	);
}

interface ProfileReport {
	versions: Record<string, string>;
	checks: LabCheck[];
}

async function checkPodmanLab(root: boolean): Promise<ProfileReport> {
	const setupFix = 'run `npm run lab:setup` as root';
	// Rootless podman has its own, empty image store: as another user the answers would mislead.
	if (!root) {
		return {
			versions: {},
			checks: [{ id: 'root', label: 'Running as root (the lab uses rootful podman)', ok: false, fix: 'run the gateway and lab:status as root' }],
		};
	}
	const confExists = await exists(CONTAINERS_CONF_PATH);
	const env = confExists ? { ...process.env, CONTAINERS_CONF: CONTAINERS_CONF_PATH } : process.env;
	const [podman, runc, conmon, missingPackages, envFileExists, images] = await Promise.all([
		versionOf('podman', ['version', '--format', '{{.Client.Version}}'], env),
		versionOf('runc', ['--version']),
		versionOf('conmon', ['--version']),
		findMissingPackages(LAB_PACKAGES.map((pkg) => pkg.name), COMMAND_TIMEOUT_MS),
		exists(LAB_ENV_PATH),
		Promise.all(
			LAB_IMAGES.map(async (image) => ({
				image,
				found: await inspectImage(image.reference, { env, timeoutMs: COMMAND_TIMEOUT_MS }),
				expected: await recipeHash(image).catch(() => null),
			})),
		),
	]);

	const versions: Record<string, string> = {};
	if (podman) versions.podman = podman;
	if (runc) versions.runc = runc;
	if (conmon) versions.conmon = conmon;

	const checks: LabCheck[] = [
		{ id: 'root', label: 'Running as root', ok: true },
		missingPackages.length === 0
			? { id: 'packages', label: 'Debian packages of the lab', ok: true, detail: `${LAB_PACKAGES.length} installed` }
			: {
					id: 'packages',
					label: 'Debian packages of the lab',
					ok: false,
					detail: `missing: ${missingPackages
						.map((name) => `${name} (${LAB_PACKAGES.find((pkg) => pkg.name === name)?.why ?? ''})`)
						.join(', ')}`,
					fix: setupFix,
				},
		podman
			? { id: 'podman', label: 'podman answers', ok: true, detail: podman }
			: { id: 'podman', label: 'podman answers', ok: false, detail: 'podman did not answer', fix: setupFix },
		confExists && envFileExists
			? { id: 'settings', label: 'podlab containers.conf and lab shell env', ok: true, detail: `${CONTAINERS_CONF_PATH}, ${LAB_ENV_PATH}` }
			: { id: 'settings', label: 'podlab containers.conf and lab shell env', ok: false, detail: 'not written yet', fix: setupFix },
		...images.map(({ image, found, expected }): LabCheck => {
			const label = `Image ${image.articleName} (${image.reference})`;
			if (!found) return { id: `image:${image.name}`, label, ok: false, detail: 'missing', fix: setupFix };
			if (expected && found.recipe !== expected) {
				return { id: `image:${image.name}`, label, ok: false, detail: 'built from an older recipe', fix: setupFix };
			}
			return { id: `image:${image.name}`, label, ok: true, detail: found.id.slice(0, 12) };
		}),
	];
	return { versions, checks };
}

async function checkKubernetesLab(): Promise<ProfileReport> {
	const provisionFix = 'provision the node with `sudo lab/provision/provision-node.sh` (see lab/README.md)';
	const kubeconfig = await findKubeconfig();
	const kubeEnv = kubeconfig ? { ...process.env, KUBECONFIG: kubeconfig } : process.env;
	const [kubectl, crictl, nodes, runtime, tools] = await Promise.all([
		versionOf('kubectl', ['version', '--client', '-o', 'json']),
		versionOf('crictl', ['--version']),
		run('kubectl', ['get', 'nodes', '--no-headers', `--request-timeout=${COMMAND_TIMEOUT_MS}ms`], {
			timeoutMs: COMMAND_TIMEOUT_MS + 200,
			env: kubeEnv,
		}),
		run('crictl', ['version'], { timeoutMs: COMMAND_TIMEOUT_MS }),
		toolChecks([
			{ command: 'gcc', label: 'gcc (builds the memory stress program)', fix: 'apt-get install gcc libc6-dev' },
			{ command: 'ip', label: 'ip (ip netns)', fix: 'apt-get install iproute2' },
			{ command: 'pstree', label: 'pstree', fix: 'apt-get install psmisc' },
			{ command: 'jq', label: 'jq', fix: 'apt-get install jq' },
		]),
	]);
	const versions: Record<string, string> = {};
	if (kubectl) versions.kubectl = kubectl;
	if (crictl) versions.crictl = crictl;
	const readyNodes = nodes.stdout.split('\n').filter((line) => /\sReady\s/.test(line)).length;
	const checks: LabCheck[] = [
		kubeconfig
			? { id: 'kubeconfig', label: 'kubeconfig', ok: true, detail: kubeconfig }
			: { id: 'kubeconfig', label: 'kubeconfig', ok: false, detail: `none of ${KUBECONFIG_CANDIDATES.join(', ')}`, fix: provisionFix },
		kubectl
			? { id: 'kubectl', label: 'kubectl', ok: true, detail: kubectl }
			: { id: 'kubectl', label: 'kubectl', ok: false, detail: 'not found', fix: provisionFix },
		readyNodes > 0
			? { id: 'nodes', label: 'A Ready node', ok: true, detail: `${readyNodes} Ready` }
			: {
					id: 'nodes',
					label: 'A Ready node',
					ok: false,
					detail: nodes.timedOut ? 'the API server did not answer in time' : nodes.stderr.trim().split('\n').at(-1) || 'no Ready node',
					fix: 'check the cluster: `systemctl status k3s`, `kubectl get nodes`',
				},
		crictl && succeeded(runtime)
			? { id: 'crictl', label: 'crictl talks to the container runtime', ok: true, detail: crictl }
			: { id: 'crictl', label: 'crictl talks to the container runtime', ok: false, detail: crictl ? 'no answer from the runtime endpoint' : 'not found', fix: provisionFix },
		...tools,
	];
	return { versions, checks };
}

/** Chooses the profile: PODLAB_LAB_PROFILE if set, else Kubernetes where a node is configured, else podman if installed. */
async function chooseProfile(): Promise<{ profile: MachineProfile; source: 'env' | 'detected'; problem: LabCheck | null }> {
	const configured = process.env.PODLAB_LAB_PROFILE;
	if (configured) {
		const parsed = labProfileSchema.safeParse(configured);
		if (parsed.success) return { profile: parsed.data, source: 'env', problem: null };
		return {
			profile: 'none',
			source: 'env',
			problem: {
				id: 'profile',
				label: 'PODLAB_LAB_PROFILE',
				ok: false,
				detail: `"${configured}" is not a lab profile`,
				fix: `set PODLAB_LAB_PROFILE to one of ${labProfileSchema.options.join(', ')}, or unset it to detect the profile`,
			},
		};
	}
	// kubectl alone proves nothing (Debian ships it); a kubeconfig plus crictl marks a node.
	if ((await findKubeconfig()) && (await which('crictl'))) return { profile: 'kubernetes', source: 'detected', problem: null };
	if (await which('podman')) return { profile: 'podman', source: 'detected', problem: null };
	return { profile: 'none', source: 'detected', problem: null };
}

function summarize(profile: MachineProfile, source: 'env' | 'detected', ready: boolean, failed: number): string {
	if (profile === 'none' && source === 'env' && process.env.PODLAB_LAB_PROFILE === 'none') {
		return 'No lab: PODLAB_LAB_PROFILE=none turns it off, so commands can be read and copied, not run.';
	}
	if (profile === 'none') return 'No lab on this machine: commands can be read and copied, not run. Run `npm run lab:setup` (podman lab) or provision a Kubernetes node.';
	if (ready) return `The ${profile} lab is ready.`;
	return `The ${profile} lab is not ready: ${failed} check${failed === 1 ? '' : 's'} failed (see their fixes).`;
}

/** Where labs of one's own are asked for: an Incus endpoint and podlab's project there. */
export interface IncusTarget {
	endpoint: IncusEndpoint;
	project: string;
}

/** Labs of one's own at `target` (default: PODLAB_INCUS_* or this machine's daemon); a bad setting is what is missing. */
async function incusStatus(target: IncusTarget | undefined): Promise<IncusStatus> {
	try {
		if (target) return await detectIncusLabs(target.endpoint, target.project);
		return await detectIncusLabs(await loadEndpoint(endpointSettingsFromEnv()), process.env.PODLAB_INCUS_PROJECT || undefined);
	} catch (error) {
		return { available: false, address: 'unknown', reachable: false, version: null, clustered: false, members: [], image: 'unknown', running: 0, stopped: 0, missing: [(error as Error).message], quotas: 'unknown', lxcfs: 'not-installed' };
	}
}

/**
 * Detects the lab on this machine, and the labs of one's own at `incus` (the gateway's endpoint).
 * Never throws (a failure inside becomes a failed check) and takes well under a few seconds.
 */
export async function detectLab(options: { incus?: IncusTarget } = {}): Promise<LabStatus> {
	const started = performance.now();
	const root = process.getuid?.() === 0;
	const [os, cgroup, incus] = await Promise.all([readOsRelease(), detectCgroupLayout(), incusStatus(options.incus)]);
	const host = { os: os.PRETTY_NAME ?? 'unknown', kernel: release(), cgroup, root };
	const paths = { containersConf: CONTAINERS_CONF_PATH, envFile: LAB_ENV_PATH, workDir: LAB_WORK_DIR };
	let profile: MachineProfile = 'none';
	let profileSource: 'env' | 'detected' = 'detected';
	let report: ProfileReport = { versions: {}, checks: [] };
	try {
		const chosen = await chooseProfile();
		profile = chosen.profile;
		profileSource = chosen.source;
		if (chosen.problem) report.checks.push(chosen.problem);
		if (profile === 'podman') report = await checkPodmanLab(root);
		if (profile === 'kubernetes') report = await checkKubernetesLab();
	} catch (error) {
		report.checks.push({
			id: 'detection',
			label: 'Lab detection',
			ok: false,
			detail: (error as Error).message,
			fix: 'run `npm run lab:status` on the lab machine for details',
		});
	}
	const checks = [
		...report.checks,
		cgroup === 'none'
			? { id: 'cgroup', label: 'cgroups', ok: false, detail: 'no cgroup controllers mounted', fix: 'use a machine whose kernel mounts cgroups (any stock Debian 12 or Ubuntu VM)' }
			: { id: 'cgroup', label: 'cgroups', ok: true, detail: cgroup },
	];
	const failed = checks.filter((check) => !check.ok).length;
	const ready = profile !== 'none' && failed === 0;
	return {
		profile,
		profileSource,
		ready,
		summary: summarize(profile, profileSource, ready, failed),
		host,
		versions: report.versions,
		checks,
		paths,
		incus,
		checkedAt: new Date().toISOString(),
		durationMs: Math.round(performance.now() - started),
	};
}

/** Human-readable report of `status` for the CLI. */
export function formatLabStatus(status: LabStatus): string {
	const lines = [
		`Lab profile: ${status.profile} (${status.profileSource === 'env' ? 'set by PODLAB_LAB_PROFILE' : 'detected'}) — ${status.ready ? 'ready' : 'NOT ready'}`,
		`  ${status.summary}`,
		`  host      ${status.host.os}, kernel ${status.host.kernel}, cgroup ${status.host.cgroup}${status.host.root ? '' : ', not root'}`,
	];
	const versions = Object.entries(status.versions).map(([tool, version]) => `${tool} ${version}`);
	if (versions.length > 0) lines.push(`  versions  ${versions.join(', ')}`);
	if (status.profile === 'podman') lines.push(`  env file  ${status.paths.envFile} (CONTAINERS_CONF=${status.paths.containersConf})`);
	lines.push('');
	for (const check of status.checks) {
		lines.push(`  ${check.ok ? '✓' : '✗'} ${check.label}${check.detail ? `: ${check.detail}` : ''}`);
		if (!check.ok && check.fix) lines.push(`      fix: ${check.fix}`);
	}
	lines.push('', ...formatIncusStatus(status.incus));
	lines.push('', `(checked in ${status.durationMs} ms)`);
	return lines.join('\n');
}

/** The labs-of-one's-own part of the report. */
export function formatIncusStatus(incus: IncusStatus): string[] {
	const lines = [
		incus.available
			? `Labs of one's own (Incus ${incus.version} at ${incus.address}): available, ${incus.running} running, ${incus.stopped} stopped; image ${incus.image}${incus.image === 'outdated' ? ' (`npm run lab:setup` builds the new one)' : ''}`
			: `Labs of one's own (Incus at ${incus.address}): not available — missing ${incus.missing.join('; ')}`,
	];
	for (const member of incus.members) lines.push(`  member ${member.name}: ${member.status}${member.message ? ` (${member.message})` : ''}`);
	if (incus.available && incus.address.startsWith('/')) {
		lines.push(`  lxcfs ${incus.lxcfs}${incus.lxcfs === 'running' ? '' : ' (free and uptime in a lab show the host\u2019s)'}`);
		lines.push(`  disk quotas ${incus.quotas}${incus.quotas === 'full' ? ' (this kernel has no simple quotas: removing a lab costs seconds of CPU)' : ''}`);
	}
	return lines;
}

const USAGE = `
Usage: npm run lab:status [-- --json]

Shows which lab this machine offers (profile podman, kubernetes or none; set PODLAB_LAB_PROFILE
to choose instead of detecting), the versions and cgroup layout, and what is missing with how to
fix it. Exits 0 when the lab is ready, 1 when it is not.

Options:
  --json      print the status as JSON (the shape of GET /api/lab)
  -h, --help  show this help
`;

async function main(): Promise<number> {
	const options = parseCli(process.argv.slice(2), { json: { type: 'boolean', default: false } }, USAGE);
	const status = await detectLab();
	process.stdout.write(options.json ? `${JSON.stringify(status, null, 2)}\n` : `${formatLabStatus(status)}\n`);
	return status.ready ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runCli(main);
