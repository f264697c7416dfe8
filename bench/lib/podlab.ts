/**
 * The podlab target: the real gateway (`server/main.ts`, started by the test helper as a child process
 * on port 0) and a protocol client that behaves like the site's: it attaches first, sends keystrokes as
 * binary frames and acknowledges output for flow control.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { parseMountInfo, parseProcCgroup } from '../../server/backends/local/cgroup.ts';
import { encodeClientMessage, type ClientMessage, type ServerMessage } from '../../src/protocol.ts';
import { AckCoalescer, type Scheduler } from '../../src/terminal/ack-coalescer.ts';
import { newReader } from '../../tests/helpers/client.ts';
import { startGateway, type RunningGateway } from '../../tests/helpers/gateway.ts';
import type { Cleanup } from './cleanup.ts';
import { descendants } from './proc.ts';
import type { BenchTerminal, OutputChunk } from './terminal.ts';

/**
 * How the client acknowledges output.
 * - `xterm`: as the xterm.js flow-control guide (and ttyd) do it: one write callback, hence one ack,
 *   per 100,000 bytes processed, and the remainder on the next animation frame (16 ms).
 * - `site`: the site's own client (src/terminal/ack-coalescer.ts with its defaults: an ack once 128 KiB
 *   are rendered, else on the next frame), rendering instantly.
 */
export type AckPolicy = 'xterm' | 'site';

/** Bytes between write callbacks in the xterm.js flow-control guide (its CALLBACK_BYTE_LIMIT). */
const XTERM_CALLBACK_BYTES = 100_000;
/** One animation frame at 60 Hz, standing in for requestAnimationFrame. */
const FRAME_MS = 16;
const nextFrame: Scheduler = (callback) => {
	const timer = setTimeout(callback, FRAME_MS);
	return () => clearTimeout(timer);
};

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
	const gateway = await startGateway({ HOME: workdir, PODLAB_WORKDIR: workdir, ...env });
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
	ack?: AckPolicy;
}

export class PodlabTerminal implements BenchTerminal {
	readonly socket: WebSocket;
	readonly cookie: string;
	/** Output frames and bytes received, and acks sent: the flood's framing and ack overhead. */
	frames = 0;
	bytes = 0;
	acks = 0;
	/** performance.now() when the socket was asked for, and when the first output byte (the prompt) came. */
	connectStartedAt = 0;
	firstOutputAt = 0;
	failure: string | null = null;
	readonly #listeners = new Set<(chunk: OutputChunk) => void>();
	readonly #messages = new Set<(message: ServerMessage) => void>();
	readonly #acks: AckCoalescer;
	#closing = false;

	private constructor(socket: WebSocket, cookie: string, ack: AckPolicy) {
		this.socket = socket;
		this.cookie = cookie;
		this.#acks = new AckCoalescer(
			(bytes) => {
				this.acks++;
				this.#send({ t: 'ack', bytes });
			},
			ack === 'xterm' ? { thresholdBytes: XTERM_CALLBACK_BYTES, schedule: nextFrame } : { schedule: nextFrame },
		);
		let lastError = '';
		socket.on('message', (data, isBinary) => {
			if (!isBinary) {
				const message = JSON.parse(data.toString()) as ServerMessage;
				if (message.t === 'error') lastError = message.code;
				for (const listener of this.#messages) listener(message);
				return;
			}
			const chunk = data as Buffer;
			if (this.frames === 0) this.firstOutputAt = performance.now();
			this.frames++;
			this.bytes += chunk.length;
			for (const listener of this.#listeners) listener(chunk);
			// Rendering is instant here: the write callback fires at once.
			this.#acks.rendered(chunk.length);
		});
		socket.on('close', (code, reason) => {
			this.#acks.discard();
			if (!this.#closing) this.failure ??= `closed by the gateway: ${code} ${reason.toString() || lastError}`;
		});
		socket.on('error', (error) => (this.failure ??= `socket error: ${error.message}`));
	}

	/** Opens a socket for a reader and attaches to its terminal; resolves at `ready`. */
	static async open(gateway: RunningGateway, options: PodlabTerminalOptions = {}): Promise<PodlabTerminal> {
		const connectStartedAt = performance.now();
		const cookie = options.cookie ?? (await newReader(gateway));
		const socket = new WebSocket(gateway.wsUrl, { headers: { cookie, origin: gateway.origin }, perMessageDeflate: false });
		await new Promise<void>((resolve, reject) => {
			socket.once('open', () => resolve());
			socket.once('unexpected-response', (_, response) => reject(new Error(`podlab refused the upgrade: HTTP ${response.statusCode}`)));
			socket.once('error', reject);
		});
		const terminal = new PodlabTerminal(socket, cookie, options.ack ?? 'xterm');
		terminal.connectStartedAt = connectStartedAt;
		const ready = terminal.waitForMessage('ready', 30_000);
		terminal.#send({ t: 'attach', term: options.term ?? 'main', since: 0 });
		await ready;
		return terminal;
	}

	type(text: string): void {
		if (this.socket.readyState === WebSocket.OPEN) this.socket.send(Buffer.from(text), { binary: true });
	}

	onOutput(listener: (chunk: OutputChunk) => void): () => void {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	}

	/** Resolves with the first message of type `type` from now on. */
	waitForMessage<K extends ServerMessage['t']>(type: K, timeoutMs: number): Promise<Extract<ServerMessage, { t: K }>> {
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this.#messages.delete(listener);
				reject(new Error(`no "${type}" from the gateway within ${timeoutMs} ms${this.failure ? ` (${this.failure})` : ''}`));
			}, timeoutMs);
			const listener = (message: ServerMessage) => {
				if (message.t !== type) return;
				clearTimeout(timer);
				this.#messages.delete(listener);
				resolve(message as Extract<ServerMessage, { t: K }>);
			};
			this.#messages.add(listener);
		});
	}

	close(): void {
		this.#closing = true;
		this.#acks.discard();
		this.socket.close();
	}

	#send(message: ClientMessage): void {
		if (this.socket.readyState === WebSocket.OPEN) this.socket.send(encodeClientMessage(message));
	}
}
