/**
 * Lab hosts for the ssh backend's tests, made by the tests themselves: each host is a network
 * namespace joined to the root namespace by a veth pair, with its own address in a private
 * 10.213.X.0/24 used nowhere else, a UTS namespace with its own hostname, and Debian's sshd on a
 * test config. Host keys and the client key are throwaway keys made per run in a temp dir.
 *
 * The hosts share this machine's filesystem, so each gets its own HOME and tmux socket directory
 * (sshd's SetEnv): ~/.podlab and podlab's tmux server are per host, as on real machines. Needs root.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { rootProblem } from '../lab/lab-required.ts';
import { killNamespaceProcesses, removeLeftoverNamespaces } from './netns.ts';

const run = promisify(execFile);

/** Namespaces are named podlab-lab-<pid>-<n>: a leftover of a test process that died is recognisable. */
const NAMESPACE_PREFIX = 'podlab-lab-';
const SSH_PORT = 2222;

export interface LabHost {
	/** Its hostname (UTS namespace), e.g. "lab-2". */
	name: string;
	/** HOME of the host's user (sshd's SetEnv): where a reader's ~/.bashrc goes. */
	home: string;
	namespace: string;
	address: string;
	port: number;
	/** `root@10.213.X.2:2222`, as the gateway's settings take it. */
	spec: string;
	/** The host's public key, "ssh-ed25519 AAAA…". */
	hostKey: string;
	/** Runs podlab's tmux client against this host's tmux server. */
	tmux(...args: string[]): Promise<{ code: number; stdout: string }>;
	/** Stops its sshd (the host refuses connections), or starts it again. */
	stopSshd(): Promise<void>;
	startSshd(): Promise<void>;
	/** Takes the host's side of the link down (the host stops answering) or up again. */
	setLink(state: 'up' | 'down'): Promise<void>;
}

export interface LabHosts {
	hosts: LabHost[];
	dir: string;
	/** Private key every host accepts (root's authorized key). */
	identityFile: string;
	/** Every host with its real key. */
	knownHostsFile: string;
	/** A private key no host accepts. */
	strangerIdentityFile: string;
	/** A known_hosts in which `host` has another key than the one it presents. */
	knownHostsWithWrongKeyFor(host: LabHost): string;
	/** Stops every sshd and process on the hosts, deletes the namespaces and the temp dir. */
	close(): Promise<void>;
}

/** Debian packages the lab hosts are made with, by the program that shows each is installed. */
const TOOLS: Record<string, string> = { '/usr/sbin/sshd': 'openssh-server', ssh: 'openssh-client', tmux: 'tmux', ip: 'iproute2', unshare: 'util-linux' };

/**
 * Why the lab hosts cannot be made here (no root, a Debian package missing), or null. Tests skip or
 * fail on it as tests/lab/lab-required.ts says.
 */
export function labHostsProblem(): string | null {
	const missing = Object.entries(TOOLS)
		.filter(([tool]) => (tool.startsWith('/') ? !existsSync(tool) : spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { stdio: 'ignore' }).status !== 0))
		.map(([, pkg]) => pkg);
	const problem = rootProblem('network namespaces, sshd') ?? (missing.length > 0 ? `needs the Debian packages ${missing.join(', ')} (apt-get install ${missing.join(' ')})` : null);
	return problem && `the ssh lab hosts ${problem}`;
}

export async function createLabHosts(count: number): Promise<LabHosts> {
	await removeLeftoverNamespaces(NAMESPACE_PREFIX);
	const dir = mkdtempSync(join(tmpdir(), 'podlab-lab-hosts-'));
	const created: HostState[] = [];
	const keys = {
		client: await generateKey(join(dir, 'client_ed25519')),
		stranger: await generateKey(join(dir, 'stranger_ed25519')),
		impostor: await generateKey(join(dir, 'impostor_ed25519')),
	};
	writeFileSync(join(dir, 'authorized_keys'), `${keys.client.publicKey}\n`);
	// sshd's privilege separation directory, which the openssh-server package creates at boot.
	mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
	try {
		const subnets = await freeSubnets(count);
		for (let index = 0; index < count; index++) created.push(await createHost(dir, index + 1, subnets[index]!));
	} catch (error) {
		await Promise.allSettled(created.map(destroyHost));
		rmSync(dir, { recursive: true, force: true });
		throw error;
	}
	const knownHostsFile = join(dir, 'known_hosts');
	writeFileSync(knownHostsFile, created.map(({ host }) => knownHostsLine(host, host.hostKey)).join(''));
	return {
		hosts: created.map((state) => state.host),
		dir,
		identityFile: keys.client.file,
		knownHostsFile,
		strangerIdentityFile: keys.stranger.file,
		knownHostsWithWrongKeyFor(wrong) {
			const file = join(dir, `known_hosts-wrong-${wrong.name}`);
			writeFileSync(file, created.map(({ host }) => knownHostsLine(host, host === wrong ? keys.impostor.publicKey : host.hostKey)).join(''));
			return file;
		},
		async close() {
			await Promise.allSettled(created.map(destroyHost));
			rmSync(dir, { recursive: true, force: true });
		},
	};
}

interface HostState {
	host: LabHost;
	/** The host's sshd, while it runs. */
	sshd(): ChildProcess | null;
}

async function createHost(dir: string, number: number, subnet: number): Promise<HostState> {
	const name = `lab-${number}`;
	const namespace = `${NAMESPACE_PREFIX}${process.pid}-${number}`;
	const rootSide = `pl${process.pid}h${number}`.slice(0, 15);
	const address = `10.213.${subnet}.2`;
	const hostDir = join(dir, name);
	const home = join(hostDir, 'home');
	const tmuxDir = join(hostDir, 'tmux');
	mkdirSync(home, { recursive: true });
	mkdirSync(tmuxDir, { recursive: true, mode: 0o700 });
	const hostKey = await generateKey(join(hostDir, 'ssh_host_ed25519_key'));
	const config = join(hostDir, 'sshd_config');
	writeFileSync(
		config,
		[
			`ListenAddress ${address}`,
			`Port ${SSH_PORT}`,
			`HostKey ${hostKey.file}`,
			`AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
			// The tests run as root; keys only.
			'PermitRootLogin prohibit-password',
			'PasswordAuthentication no',
			'KbdInteractiveAuthentication no',
			'UsePAM no',
			// The temp dir's modes are not what sshd wants for a user's ~/.ssh.
			'StrictModes no',
			'PidFile none',
			`SetEnv HOME=${home} TMUX_TMPDIR=${tmuxDir}`,
			'',
		].join('\n'),
	);
	await run('ip', ['netns', 'add', namespace]);
	let sshd: ChildProcess | null = null;
	const ipIn = (...args: string[]) => run('ip', ['-n', namespace, ...args]);
	try {
		await run('ip', ['link', 'add', rootSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace]);
		await run('ip', ['addr', 'add', `10.213.${subnet}.1/24`, 'dev', rootSide]);
		await run('ip', ['link', 'set', rootSide, 'up']);
		await ipIn('addr', 'add', `${address}/24`, 'dev', 'eth0');
		await ipIn('link', 'set', 'eth0', 'up');
		await ipIn('link', 'set', 'lo', 'up');
	} catch (error) {
		await run('ip', ['netns', 'del', namespace]).catch(() => {});
		throw error;
	}
	const host: LabHost = {
		name,
		home,
		namespace,
		address,
		port: SSH_PORT,
		spec: `root@${address}:${SSH_PORT}`,
		hostKey: hostKey.publicKey,
		async tmux(...args) {
			try {
				const { stdout } = await run('tmux', ['-L', 'podlab', ...args], { env: { ...process.env, TMUX_TMPDIR: tmuxDir } });
				return { code: 0, stdout };
			} catch (error) {
				return { code: (error as { code?: number }).code ?? 1, stdout: (error as { stdout?: string }).stdout ?? '' };
			}
		},
		async stopSshd() {
			if (!sshd || sshd.exitCode !== null || sshd.signalCode !== null) return;
			sshd.kill('SIGTERM');
			await once(sshd, 'exit');
		},
		async startSshd() {
			sshd = await startSshd(namespace, name, config);
		},
		async setLink(linkState) {
			await ipIn('link', 'set', 'eth0', linkState);
			if (linkState === 'down') return;
			// The kernel reports the carrier back on this side in its own time (linkwatch: up to a second),
			// and keeps the failed neighbour entry of the down time: until both are done, connecting gives
			// "No route to host". The host is up once they are.
			await run('ip', ['neigh', 'flush', 'dev', rootSide]);
			for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 50))) {
				if (readFileSync(`/sys/class/net/${rootSide}/operstate`, 'utf8').trim() === 'up') return;
			}
			throw new Error(`${rootSide} did not come up within 5 s`);
		},
	};
	const state: HostState = { host, sshd: () => sshd };
	try {
		await host.startSshd();
	} catch (error) {
		await destroyHost(state);
		throw error;
	}
	return state;
}

/** sshd in the host's network namespace and a UTS namespace of its own, named after the host. */
async function startSshd(namespace: string, hostname: string, config: string): Promise<ChildProcess> {
	const sshd = spawn(
		'ip',
		['netns', 'exec', namespace, 'unshare', '--uts', 'sh', '-c', 'hostname "$1" && exec /usr/sbin/sshd -D -e -f "$2"', 'sh', hostname, config],
		{ stdio: ['ignore', 'ignore', 'pipe'] },
	);
	let log = '';
	await new Promise<void>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`sshd for ${hostname} did not start within 10 s:\n${log}`)), 10_000);
		sshd.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
			log += chunk;
			if (log.includes('Server listening on')) {
				clearTimeout(timer);
				resolve();
			}
		});
		sshd.once('exit', (code) => {
			clearTimeout(timer);
			reject(new Error(`sshd for ${hostname} exited with ${code}:\n${log}`));
		});
	});
	return sshd;
}

async function destroyHost(state: HostState): Promise<void> {
	const { namespace } = state.host;
	// sshd, the sessions it started and the tmux server they started all live in the namespace.
	await killNamespaceProcesses(namespace);
	const sshd = state.sshd();
	if (sshd && sshd.exitCode === null && sshd.signalCode === null) await once(sshd, 'exit');
	// Deleting the namespace deletes its end of the veth pair, and with it the root side.
	await run('ip', ['netns', 'del', namespace]);
}

/** `count` third octets X for which nothing on this machine uses 10.213.X.0/24, starting at a random one. */
async function freeSubnets(count: number): Promise<number[]> {
	const { stdout: addresses } = await run('ip', ['-4', '-o', 'addr', 'show']);
	const { stdout: routes } = await run('ip', ['-4', 'route', 'show', 'table', 'all']);
	const used = new Set([...`${addresses}\n${routes}`.matchAll(/\b10\.213\.(\d+)\./g)].map((match) => Number(match[1])));
	const start = 1 + Math.floor(Math.random() * 254);
	const free: number[] = [];
	for (let offset = 0; offset < 254 && free.length < count; offset++) {
		const subnet = 1 + ((start - 1 + offset) % 254);
		if (!used.has(subnet)) free.push(subnet);
	}
	if (free.length < count) throw new Error('no free 10.213.X.0/24 subnet for the test lab hosts');
	return free;
}

async function generateKey(file: string): Promise<{ file: string; publicKey: string }> {
	await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'podlab-test', '-f', file]);
	const [type, key] = readFileSync(`${file}.pub`, 'utf8').split(' ');
	return { file, publicKey: `${type} ${key}` };
}

function knownHostsLine(host: LabHost, key: string): string {
	return `[${host.address}]:${host.port} ${key}\n`;
}
