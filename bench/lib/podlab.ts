/**
 * The podlab target: the real gateway (`server/main.ts`, started by the test helper as a child process
 * on port 0) and the tests' protocol client (tests/helpers/client.ts), which behaves like the site's:
 * it attaches first, sends keystrokes as binary frames and acknowledges output for flow control.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMountInfo, parseProcCgroup } from '../../server/backends/local/cgroup.ts';
import type { ServerMessage } from '../../src/protocol.ts';
import { TestClient, type AckPolicy } from '../../tests/helpers/client.ts';
import { startGateway, type RunningGateway } from '../../tests/helpers/gateway.ts';
import type { Cleanup } from './cleanup.ts';
import { descendants } from './proc.ts';
import type { BenchTerminal, OutputChunk } from './terminal.ts';

/** The benchmarks compare the client's two ack policies (see tests/helpers/client.ts). */
export type { AckPolicy };

export interface StartPodlabOptions {
	/** Gateway settings (environment variables) on top of the benchmark's defaults. */
	env?: Record<string, string>;
	cleanup: Cleanup;
}

/**
 * Starts the gateway with room for `terminals` readers, shells in a scratch directory, and cgroups as
 * configured (`auto`: contained, as in production, when run as root).
 */
export async function startPodlab({ env = {}, cleanup }: StartPodlabOptions): Promise<RunningGateway> {
	const workdir = mkdtempSync(join(tmpdir(), 'podlab-bench-'));
	cleanup.defer('podlab scratch directory', () => rmSync(workdir, { recursive: true, force: true }));
	// HOME too: the shells then read no ~/.bashrc of the machine's user (one with `pyenv init` in it
	// costs 250 ms per shell), so spawn figures are podlab's own and comparable with wetty's.
	// Every benchmark client connects from 127.0.0.1: the per-address socket cap (a guard against one
	// client address holding the gateway) would stop the capacity sweep at 512 sockets.
	const gateway = await startGateway({ HOME: workdir, PODLAB_WORKDIR: workdir, PODLAB_MAX_SOCKETS_PER_ADDRESS: '100000', ...env });
	cleanup.defer('podlab gateway', () => stopPodlab(gateway), GATEWAY_STOP_TIMEOUT_MS + 5000);
	gateway.process.once('exit', (code, signal) => {
		if (stopping.has(gateway)) return;
		// Whatever the benchmark reports next (refused connections), this is why.
		const tail = gateway.logs().trim().split('\n').slice(-10).join('\n');
		console.error(`podlab gateway (pid ${gateway.pid}) exited unexpectedly: code ${code}, signal ${signal}. Its last log lines:\n${tail}`);
	});
	return gateway;
}

/** Gateways being stopped on purpose (their exit is expected). */
const stopping = new WeakSet<RunningGateway>();

/** How long the gateway may take to end its terminals before it and its shells are killed. */
const GATEWAY_STOP_TIMEOUT_MS = 120_000;

/**
 * Stops the gateway as `npm start` would be stopped (SIGTERM: it ends every terminal, then exits) and
 * resolves with how long that took (ms). Past `timeoutMs` it kills the gateway and every process it
 * started, and resolves with null. Idempotent.
 */
export async function stopPodlab(gateway: RunningGateway, timeoutMs = GATEWAY_STOP_TIMEOUT_MS): Promise<number | null> {
	const started = performance.now();
	if (gateway.process.exitCode !== null || gateway.process.signalCode !== null) return 0;
	stopping.add(gateway);
	const shells = descendants(gateway.pid);
	const terminalCgroups = gatewayCgroupDirs(gateway.pid);
	let timer: NodeJS.Timeout | undefined;
	const stopped = await Promise.race([
		gateway.stop().then(() => true),
		new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
	]);
	clearTimeout(timer);
	if (stopped) return performance.now() - started;
	gateway.process.kill('SIGKILL');
	// Killed in the middle of ending its terminals, the gateway may leave a cgroup frozen (it freezes
	// one before killing what is inside): a frozen process cannot die, so thaw them first.
	const inCgroups: number[] = [];
	for (const dir of terminalCgroups.flatMap(childDirs)) {
		for (const [file, thawed] of [['freezer.state', 'THAWED'], ['cgroup.freeze', '0']] as const) {
			if (existsSync(join(dir, file))) writeFileSync(join(dir, file), thawed);
		}
		inCgroups.push(...readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number));
	}
	for (const pid of [...shells, ...inCgroups]) {
		try {
			process.kill(pid, 'SIGKILL');
		} catch {
			// Already gone.
		}
	}
	return null;
}

/**
 * The gateway's own cgroup parents (`podlab-<pid>` beside or above its cgroup, see server/backends/local/cgroup.ts),
 * found from its /proc entry while it runs.
 */
function gatewayCgroupDirs(pid: number): string[] {
	const mounts = parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8')).filter((mount) => mount.fsType === 'cgroup' || mount.fsType === 'cgroup2');
	const membership = parseProcCgroup(readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
	const found: string[] = [];
	for (const mount of mounts) {
		const controller = mount.fsType === 'cgroup2' ? '' : (['freezer', 'memory', 'pids'].find((name) => mount.superOptions.includes(name)) ?? null);
		const own = controller === null ? undefined : membership.get(controller);
		if (own === undefined) continue;
		// Its own cgroup and each ancestor, as the gateway looks for a parent there too.
		const relative = own.startsWith(mount.root) && mount.root !== '/' ? own.slice(mount.root.length) : own;
		for (let path = relative; ; path = path.slice(0, Math.max(0, path.lastIndexOf('/'))) || '/') {
			const dir = join(mount.mountPoint, path, `podlab-${pid}`);
			if (existsSync(dir)) found.push(dir);
			if (path === '/') break;
		}
	}
	return found;
}

function childDirs(dir: string): string[] {
	return readdirSync(dir, { withFileTypes: true })
		.filter((entry) => entry.isDirectory())
		.map((entry) => join(dir, entry.name));
}

export interface PodlabTerminalOptions {
	/** Reader cookie; a new reader when absent. */
	cookie?: string;
	term?: string;
	/** @default 'site': as a reader's browser acks (the throughput benchmark also measures 'xterm', for comparison) */
	ack?: AckPolicy;
}

/** A podlab terminal as the benchmarks see one: the protocol client, with the counters they report. */
export class PodlabTerminal implements BenchTerminal {
	/** performance.now() when the socket was asked for, and when the first output byte (the prompt) came. */
	readonly connectStartedAt = performance.now();
	firstOutputAt = 0;
	readonly #listeners = new Set<(chunk: OutputChunk) => void>();
	#client: TestClient | null = null;
	#closing = false;

	/** Opens a socket for a reader and attaches to its terminal; resolves at `ready`. */
	static async open(gateway: RunningGateway, options: PodlabTerminalOptions = {}): Promise<PodlabTerminal> {
		const terminal = new PodlabTerminal();
		terminal.#client = await TestClient.connect(gateway, {
			cookie: options.cookie,
			term: options.term,
			ack: options.ack ?? 'site',
			// One animation frame at 60 Hz, as in a browser (the 'xterm' policy acks a remainder then).
			frameMs: 16,
			keep: false,
			readyTimeoutMs: 30_000,
			onOutput: (chunk) => {
				terminal.firstOutputAt ||= performance.now();
				for (const listener of terminal.#listeners) listener(chunk);
			},
		});
		return terminal;
	}

	get cookie(): string {
		return this.#attached.cookie;
	}

	/** Output frames and bytes received, and acks sent: the flood's framing and ack overhead. */
	get frames(): number {
		return this.#attached.frames;
	}

	get bytes(): number {
		return this.#attached.received;
	}

	get acks(): number {
		return this.#attached.acks;
	}

	/** Why the socket ended before {@link close}, or null. */
	get failure(): string | null {
		const client = this.#attached;
		if (client.socketError) return `socket error: ${client.socketError.message}`;
		if (!client.closed || this.#closing) return null;
		const error = client.messages.findLast((message) => message.t === 'error');
		return `closed by the gateway: ${client.closeCode} ${client.closeReason || (error?.t === 'error' ? error.code : '')}`;
	}

	type(text: string): void {
		if (!this.#attached.closed) this.#attached.type(text);
	}

	onOutput(listener: (chunk: OutputChunk) => void): () => void {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	}

	/** Resolves with the first message of type `type` from now on. */
	waitForMessage<K extends ServerMessage['t']>(type: K, timeoutMs: number): Promise<Extract<ServerMessage, { t: K }>> {
		const client = this.#attached;
		return client.waitForMessage(type, timeoutMs, client.messages.length);
	}

	close(): void {
		this.#closing = true;
		this.#attached.close();
	}

	get #attached(): TestClient {
		if (!this.#client) throw new Error('PodlabTerminal: not attached yet');
		return this.#client;
	}
}
