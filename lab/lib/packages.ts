/**
 * The Debian packages the podman lab needs, and installing the missing ones with apt-get.
 * Installed without Recommends so the lab is the same on every machine; whatever a chapter or
 * the setup uses is therefore listed here by name.
 */
import { describeFailure, run, succeeded } from './exec.ts';
import { SetupError } from './cli.ts';

export interface LabPackage {
	name: string;
	/** Why the lab needs it (shown by lab:status when it is missing). */
	why: string;
}

export const LAB_PACKAGES: readonly LabPackage[] = [
	{ name: 'podman', why: 'runs the article\u2019s YAML with `podman kube play`' },
	// Listed so apt picks runc for podman's "crun | runc" dependency: crun refuses hybrid cgroups.
	{ name: 'runc', why: 'the OCI runtime (crun refuses hybrid cgroup layouts)' },
	{ name: 'conmon', why: 'podman\u2019s container monitor' },
	{ name: 'catatonit', why: 'the init process of the pods\u2019 infra ("pause") image, built locally' },
	{ name: 'netavark', why: 'pod networking (a netns per pod, the pod IP)' },
	{ name: 'aardvark-dns', why: 'name resolution on podman networks' },
	{ name: 'iptables', why: 'netavark\u2019s firewall rules for the pod network' },
	{ name: 'busybox-static', why: 'the busybox and alpine:3.2 stand-in images' },
	{ name: 'debootstrap', why: 'the Debian root filesystem of the nginx image' },
	{ name: 'debian-archive-keyring', why: 'lets debootstrap verify Debian\u2019s mirror' },
	{ name: 'gcc', why: 'builds the OOM chapter\u2019s memory stress program' },
	{ name: 'libc6-dev', why: 'static libc for `gcc -static` (the program runs in busybox containers)' },
	{ name: 'iproute2', why: '`ip netns`' },
	{ name: 'psmisc', why: '`pstree`' },
	{ name: 'procps', why: '`ps`, `pgrep`' },
	{ name: 'jq', why: 'reading `podman inspect` JSON in the chapters' },
	{ name: 'wget', why: 'the sidecar chapter reads nginx\u2019s page with `wget`' },
];

/** Names from `names` that dpkg does not report as installed. */
export async function findMissingPackages(names: readonly string[], timeoutMs = 5_000): Promise<string[]> {
	const result = await run('dpkg-query', ['-W', '-f=${Package} ${db:Status-Abbrev}\\n', ...names], { timeoutMs });
	if (result.spawnError) return [...names];
	const installed = new Set(
		result.stdout
			.split('\n')
			.filter((line) => /^\S+ ii/.test(line))
			.map((line) => line.split(' ')[0]),
	);
	return names.filter((name) => !installed.has(name));
}

/**
 * Installs `names` with apt-get (update first, as a fresh machine has no package lists).
 * `log` receives apt's output; `targetRelease` takes them from that release (e.g. bookworm-backports).
 */
export async function installPackages(names: readonly string[], log: (chunk: Buffer) => void, options: { targetRelease?: string } = {}): Promise<void> {
	const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
	// Wait for a running apt (unattended-upgrades on a fresh VM) instead of failing on its lock.
	const lockWait = ['-o', 'DPkg::Lock::Timeout=300'];
	const update = await run('apt-get', [...lockWait, 'update'], { env, timeoutMs: 600_000, onOutput: log });
	if (!succeeded(update)) {
		throw new SetupError(
			'LAB_SETUP_APT',
			`apt-get update failed: ${describeFailure('apt-get update', update)}`,
			'check that this machine reaches its Debian mirror (`apt-get update` by hand shows the failing source), then rerun `npm run lab:setup`',
		);
	}
	const release = options.targetRelease ? ['-t', options.targetRelease] : [];
	const install = await run('apt-get', [...lockWait, 'install', '-y', '--no-install-recommends', ...release, ...names], {
		env,
		timeoutMs: 1_200_000,
		onOutput: log,
	});
	if (!succeeded(install)) {
		throw new SetupError(
			'LAB_SETUP_APT',
			`apt-get install failed: ${describeFailure('apt-get install', install)}`,
			`run \`apt-get install --no-install-recommends ${release.join(' ')}${release.length ? ' ' : ''}${names.join(' ')}\` by hand to see why, fix it, then rerun \`npm run lab:setup\``,
		);
	}
}
