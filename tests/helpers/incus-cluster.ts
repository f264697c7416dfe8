/**
 * An Incus cluster for the tests, made by the tests themselves on this machine: each member is an
 * incusd of its own (its own INCUS_DIR, id range and storage pool) in a network namespace with one
 * address in a private 10.79.X.0/24, joined by veths to a bridge the test process reaches. No
 * namespace has a default route: nothing is addressed outside this machine. The cluster is formed
 * as an operator forms one (`incus admin init --preseed`, `incus cluster add`), podlab's client
 * certificate is trusted on it, and podlab's project, profiles and lab image are made over HTTPS by
 * lab:setup's own steps, as `PODLAB_INCUS_URL=… npm run lab:setup` makes them. Needs root and
 * `lab:setup` on this machine (the podman lab's images, debootstrap's result).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { INCUS_STEPS_MS, runIncusSteps } from '../../lab/incus/host-setup.ts';
import { Progress } from '../../lab/lib/progress.ts';
import { IncusApi } from '../../lab/incus/incus-api.ts';
import { PROJECT, STORAGE_POOL } from '../../lab/incus/names.ts';
import { INCUSD } from '../../lab/incus/daemon.ts';
import { isRunning, killNamespaceProcesses, removeLeftoverNamespaces } from './netns.ts';

const run = promisify(execFile);
const PREFIX = 'podlab-incus-';
const PORT = 8443;
/** Each member's own ids: beyond this machine's Incus range (lab:setup's), 20 million each. */
const ID_BASE = 2_100_000_000;
const IDS_PER_MEMBER = 20_000_000;

export interface ClusterMember {
	name: string;
	address: string;
	namespace: string;
	dir: string;
	/** Kills the member's daemon (its labs keep running, as on a host whose daemon crashed). */
	kill(): Promise<void>;
	/** Starts the member's daemon again. */
	start(): Promise<void>;
	/** Runs the `incus` command against this member's daemon. */
	incus(...args: string[]): Promise<string>;
}

export interface IncusCluster {
	members: ClusterMember[];
	/** `https://<first member>:8443`: where the gateway talks to the cluster. */
	url: string;
	/** The gateway's settings for this cluster (PODLAB_INCUS_*). */
	env: Record<string, string>;
	/** The cluster's API as podlab reaches it, in podlab's project. */
	api(): IncusApi;
	close(): Promise<void>;
}

/** Why a cluster cannot be made here, or null. */
export async function incusClusterProblem(): Promise<string | null> {
	if (process.getuid?.() !== 0) return 'needs root (network namespaces, Incus daemons)';
	const found = await run('sh', ['-c', `test -x ${INCUSD} && command -v incus && command -v openssl && command -v nsenter`]).then(() => true, () => false);
	return found ? null : 'needs Incus (`npm run lab:setup`), openssl and nsenter';
}

export async function createIncusCluster(count: number): Promise<IncusCluster> {
	await removeLeftovers();
	const dir = mkdtempSync(join(tmpdir(), 'podlab-incus-cluster-'));
	// Labs' roots are under the members' directories: their root users must be able to pass.
	chmodSync(dir, 0o711);
	const subnet = await freeSubnet();
	const bridge = `plc${process.pid}`.slice(0, 15);
	const members: Array<ClusterMember & { daemon: () => ChildProcess | null }> = [];
	const cleanups: Array<() => Promise<unknown>> = [];
	const close = async () => {
		for (const member of members) await member.kill().catch(() => {});
		for (const member of members) await killNamespaceProcesses(member.namespace);
		for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
		// The members' labs live in cgroups of this machine: a killed daemon leaves them running.
		await run('sh', ['-c', `for m in ${members.map((member) => member.dir).join(' ')}; do for p in $(cat $m/containers/*/*.pid 2>/dev/null); do kill -9 $p; done; done`]).catch(() => {});
		await umountUnder(dir);
		rmSync(dir, { recursive: true, force: true });
	};
	try {
		await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
		cleanups.push(() => run('ip', ['link', 'del', bridge]));
		await run('ip', ['addr', 'add', `10.79.${subnet}.254/24`, 'dev', bridge]);
		await run('ip', ['link', 'set', bridge, 'up']);
		for (let index = 1; index <= count; index++) {
			const member = await createMember(dir, index, subnet, bridge);
			members.push(member);
			cleanups.push(() => run('ip', ['netns', 'del', member.namespace]));
		}
		// Podlab's certificate, trusted by the cluster.
		const clientCert = join(dir, 'podlab.crt');
		const clientKey = join(dir, 'podlab.key');
		await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp384r1', '-sha384', '-nodes', '-days', '30', '-subj', '/CN=podlab-test', '-keyout', clientKey, '-out', clientCert]);
		await formCluster(members, clientCert);
		const serverCert = join(members[0]!.dir, 'cluster.crt');
		const url = `https://${members[0]!.address}:${PORT}`;
		const env = { PODLAB_INCUS_URL: url, PODLAB_INCUS_CLIENT_CERT: clientCert, PODLAB_INCUS_CLIENT_KEY: clientKey, PODLAB_INCUS_SERVER_CERT: serverCert };
		const api = () => new IncusApi({ url, clientCert: readFileSync(clientCert, 'utf8'), clientKey: readFileSync(clientKey, 'utf8'), serverCert: readFileSync(serverCert, 'utf8') }, PROJECT);
		const setup = api();
		try {
			// What `PODLAB_INCUS_URL=… npm run lab:setup` does for a cluster, from this machine.
			await runIncusSteps(new Progress(INCUS_STEPS_MS.remote.length, { out: devNull() }), { mode: 'remote', api: setup, rebuild: false, log: () => {} });
		} finally {
			setup.close();
		}
		return { members, url, env, api, close };
	} catch (error) {
		await close();
		throw error;
	}
}

async function createMember(dir: string, index: number, subnet: number, bridge: string): Promise<ClusterMember & { daemon: () => ChildProcess | null }> {
	const name = `m${index}`;
	const namespace = `${PREFIX}${process.pid}-${index}`;
	const address = `10.79.${subnet}.${index}`;
	const memberDir = join(dir, name);
	mkdirSync(memberDir, { recursive: true, mode: 0o711 });
	const subid = join(dir, `${name}.subid`);
	writeFileSync(subid, `root:${ID_BASE + (index - 1) * IDS_PER_MEMBER}:${IDS_PER_MEMBER}\n`);
	const rootSide = `plc${process.pid}m${index}`.slice(0, 15);
	await run('ip', ['netns', 'add', namespace]);
	await run('ip', ['link', 'add', rootSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace]);
	await run('ip', ['link', 'set', rootSide, 'master', bridge, 'up']);
	await run('ip', ['-n', namespace, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
	await run('ip', ['-n', namespace, 'link', 'set', 'eth0', 'up']);
	await run('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
	let daemon: ChildProcess | null = null;
	const env = { ...process.env, INCUS_DIR: memberDir };
	const member = {
		name,
		address,
		namespace,
		dir: memberDir,
		daemon: () => daemon,
		async start() {
			// The member's network namespace, a mount namespace of its own with its own id range, then incusd.
			const script = 'mount --bind "$1" /etc/subuid && mount --bind "$1" /etc/subgid && exec "$2" --group root --logfile "$3"';
			daemon = spawn('nsenter', [`--net=/run/netns/${namespace}`, 'unshare', '--mount', '--propagation', 'slave', 'sh', '-c', script, 'member', subid, INCUSD, join(memberDir, 'incusd.log')], { env, stdio: 'ignore' });
			await run('incus', ['admin', 'waitready', '--timeout', '30'], { env });
		},
		async kill() {
			if (!daemon || daemon.exitCode !== null || daemon.signalCode !== null) return;
			// nsenter, unshare and sh each exec the next: the spawned process is incusd.
			const exited = once(daemon, 'exit');
			daemon.kill('SIGKILL');
			await exited;
		},
		async incus(...args: string[]) {
			return (await run('incus', args, { env, maxBuffer: 16 * 1024 * 1024 })).stdout;
		},
	};
	await member.start();
	return member;
}

/** Bootstraps the cluster on the first member, joins the others with tokens, trusts podlab's certificate. */
async function formCluster(members: ClusterMember[], clientCert: string): Promise<void> {
	const [first, ...others] = members as [ClusterMember, ...ClusterMember[]];
	const preseed = (text: string, member: ClusterMember) => {
		const file = join(member.dir, 'preseed.yaml');
		writeFileSync(file, text);
		return run('sh', ['-c', 'incus admin init --preseed < "$1"', 'sh', file], { env: { ...process.env, INCUS_DIR: member.dir } });
	};
	await preseed(
		`config:
  core.https_address: ${first.address}:${PORT}
cluster:
  server_name: ${first.name}
  enabled: true
storage_pools:
- name: ${STORAGE_POOL}
  driver: btrfs
  config:
    size: 6GiB
`,
		first,
	);
	for (const member of others) {
		const token = (await first.incus('cluster', 'add', member.name, '--quiet')).trim().split('\n').at(-1)!;
		await preseed(
			`cluster:
  enabled: true
  server_name: ${member.name}
  server_address: ${member.address}:${PORT}
  cluster_address: ${first.address}:${PORT}
  cluster_token: ${token}
  member_config:
  - entity: storage-pool
    name: ${STORAGE_POOL}
    key: size
    value: 6GiB
`,
			member,
		);
	}
	await first.incus('config', 'trust', 'add-certificate', clientCert, '--name', 'podlab');
}

/** Progress lines nobody reads. */
function devNull(): NodeJS.WriteStream {
	return createWriteStream('/dev/null') as unknown as NodeJS.WriteStream;
}

async function umountUnder(dir: string): Promise<void> {
	const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
		.split('\n')
		.map((line) => line.split(' ')[4] ?? '')
		.filter((point) => point.startsWith(`${dir}/`))
		.sort((a, b) => b.length - a.length);
	for (const point of mounts) await run('umount', ['-l', point]).catch(() => {});
}

/** Namespaces and bridges left by a test process that died before its cleanup (its pid is in their names). */
async function removeLeftovers(): Promise<void> {
	await removeLeftoverNamespaces(PREFIX);
	const { stdout: links } = await run('ip', ['-o', 'link', 'show', 'type', 'bridge']);
	for (const match of links.matchAll(/^\d+: (plc(\d+)):/gm)) if (!isRunning(Number(match[2]))) await run('ip', ['link', 'del', match[1]!]).catch(() => {});
}


/** A third octet X for which nothing on this machine uses 10.79.X.0/24. */
async function freeSubnet(): Promise<number> {
	const { stdout } = await run('ip', ['-4', '-o', 'addr', 'show']);
	const used = new Set([...stdout.matchAll(/\b10\.79\.(\d+)\./g)].map((match) => Number(match[1])));
	for (let subnet = 1 + Math.floor(Math.random() * 250), tries = 0; tries < 254; tries++, subnet = 1 + (subnet % 254)) if (!used.has(subnet)) return subnet;
	throw new Error('no free 10.79.X.0/24 subnet for the test cluster');
}
