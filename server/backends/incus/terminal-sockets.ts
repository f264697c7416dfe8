/**
 * The direct path of a lab's terminals: for each lab on its host, the gateway listens on a unix
 * socket in a directory of that lab's own (TERMINAL_SOCKET_DIR/<gateway>/<lab>), which the lab — and
 * no other — sees read-only at LAB_TERMINAL_SOCKET_MOUNT. A terminal's attach (an Incus exec of the
 * terminal relay, relay-process.ts) connects there and says the token the gateway gave it, hands
 * the connection to its session's daemon and ends: from then on the daemon and the gateway talk
 * over that socket, with nothing between them. Through the exec, incusd copied every byte twice and
 * framed it as websocket messages; it was the lab path's largest cost (docs/performance.md).
 *
 * What is believed of a connection: only which listener took it. A lab reaches its own listener
 * alone, so a connection is that lab's; its token says which of the lab's waiting attaches it is
 * (a wrong one, or none within {@link TERMINAL_SOCKET_LIMITS}.tokenMs, and it is closed). A lab on
 * another member of a cluster, or one made before its directory existed, has no socket: its relay
 * then carries the frames over the exec, as before.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { LAB_TERMINAL_SOCKET_MOUNT, TERMINAL_SOCKET_DIR } from '../../../lab/incus/names.ts';

/** Hex digits of a token (TOKEN_LENGTH in lab/incus/files/terminal-relay.c). */
export const TOKEN_LENGTH = 32;
const SOCKET_NAME = 'terminals.sock';

export const TERMINAL_SOCKET_LIMITS = {
	/** From a connection to its token. */
	tokenMs: 5_000,
	/** Connections of one lab at once, its terminals' included (a reader has at most a few dozen). */
	connections: 64,
};

/** The host directory of `lab`'s terminal socket, mounted in that lab alone. */
export function terminalSocketDir(gateway: string, lab: string): string {
	return join(TERMINAL_SOCKET_DIR, gateway, lab);
}

/** Makes `lab`'s directory (before the lab is made, so that its mount is there from its first start). */
export async function makeTerminalSocketDir(gateway: string, lab: string): Promise<string> {
	const dir = terminalSocketDir(gateway, lab);
	await mkdir(dir, { recursive: true, mode: 0o711 });
	// Traversal only, for the lab's root (which is nobody here): it knows the socket's name.
	await Promise.all([TERMINAL_SOCKET_DIR, join(TERMINAL_SOCKET_DIR, gateway), dir].map((path) => chmod(path, 0o711)));
	return dir;
}

/** Removes `lab`'s directory (the lab is gone). */
export function removeTerminalSocketDir(gateway: string, lab: string): Promise<void> {
	return rm(terminalSocketDir(gateway, lab), { recursive: true, force: true });
}

/** A lab's directory is made before the lab: one younger than this may belong to a lab another gateway is making now. */
const PRUNE_AFTER_MS = 10 * 60_000;

/**
 * Removes the directories of labs that are not in Incus any more (their gateway is gone, or could
 * not remove them), and the emptied directories of gateways without instances. Called at take-over,
 * with every instance of the project.
 */
export async function pruneTerminalSocketDirs(instances: ReadonlyArray<{ name: string; gateway: string | null }>, root = TERMINAL_SOCKET_DIR, now = Date.now()): Promise<void> {
	const labs = new Set(instances.map((instance) => instance.name));
	const gateways = new Set(instances.map((instance) => instance.gateway));
	for (const gateway of await readdir(root).catch(() => [])) {
		const dir = join(root, gateway);
		for (const lab of await readdir(dir).catch(() => [])) {
			if (labs.has(lab)) continue;
			const made = await stat(join(dir, lab)).then((found) => found.mtimeMs, () => now);
			if (now - made > PRUNE_AFTER_MS) await rm(join(dir, lab), { recursive: true, force: true });
		}
		if (!gateways.has(gateway)) await rmdir(dir).catch(() => {});
	}
}

/** One attach waiting for its connection. */
export interface DirectAttach {
	/** The socket's path in the lab, and the token the relay says there. */
	socket: string;
	token: string;
	/** The connection, its token read; null once cancelled. */
	connection: Promise<Socket | null>;
	/** Stops waiting (the relay used the exec, or the terminal ended); a connection with this token is closed from now on. */
	cancel(): void;
}

interface Listener {
	server: Server;
	/** Token → the waiting attach's resolve. */
	waiting: Map<string, (socket: Socket | null) => void>;
}

export class TerminalSockets {
	readonly #gateway: string;
	readonly #logger: Logger;
	readonly #limits: typeof TERMINAL_SOCKET_LIMITS;
	readonly #listeners = new Map<string, Promise<Listener>>();

	constructor(gateway: string, logger: Logger, limits: typeof TERMINAL_SOCKET_LIMITS = TERMINAL_SOCKET_LIMITS) {
		this.#gateway = gateway;
		this.#logger = logger;
		this.#limits = limits;
	}

	/** Makes `lab`'s directory, for its mount; null when it cannot be made (the lab's terminals then go over Incus). */
	makeDir(lab: string): Promise<string | null> {
		return makeTerminalSocketDir(this.#gateway, lab).catch((error: unknown) => {
			this.#logger.warn({ lab, err: error }, 'incus: cannot make a lab’s terminal-socket directory');
			return null;
		});
	}

	/** Removes `lab`'s directory (the lab is gone). */
	removeDir(lab: string): Promise<void> {
		return removeTerminalSocketDir(this.#gateway, lab);
	}

	/** An attach to `lab` that will wait for its connection. @throws when the lab's socket cannot be listened on. */
	async expect(lab: string): Promise<DirectAttach> {
		const listener = await this.#listener(lab);
		const token = randomBytes(TOKEN_LENGTH / 2).toString('hex');
		let settle!: (socket: Socket | null) => void;
		const connection = new Promise<Socket | null>((resolve) => (settle = resolve));
		listener.waiting.set(token, settle);
		return {
			socket: `${LAB_TERMINAL_SOCKET_MOUNT}/${SOCKET_NAME}`,
			token,
			connection,
			cancel: () => {
				listener.waiting.delete(token);
				settle(null);
			},
		};
	}

	/** `lab` is gone: its listener is closed (its connections stay until their terminals end). */
	forget(lab: string): void {
		const listener = this.#listeners.get(lab);
		this.#listeners.delete(lab);
		void listener?.then((found) => this.#close(found), () => {});
	}

	/** Closes every listener; the sockets stay for the next run of the gateway. */
	async close(): Promise<void> {
		const listeners = await Promise.allSettled([...this.#listeners.values()]);
		this.#listeners.clear();
		for (const listener of listeners) if (listener.status === 'fulfilled') this.#close(listener.value);
	}

	#close(listener: Listener): void {
		listener.server.close();
		for (const settle of listener.waiting.values()) settle(null);
		listener.waiting.clear();
	}

	#listener(lab: string): Promise<Listener> {
		let listener = this.#listeners.get(lab);
		if (!listener) {
			listener = this.#listen(lab);
			this.#listeners.set(lab, listener);
			listener.catch(() => {
				if (this.#listeners.get(lab) === listener) this.#listeners.delete(lab);
			});
		}
		return listener;
	}

	async #listen(lab: string): Promise<Listener> {
		const path = join(await makeTerminalSocketDir(this.#gateway, lab), SOCKET_NAME);
		// What an earlier run of the gateway left (a socket is not removed when its listener goes).
		await unlink(path).catch(() => {});
		const waiting = new Map<string, (socket: Socket | null) => void>();
		const server = createServer({ pauseOnConnect: true }, (socket) => this.#accept(socket, waiting, lab));
		server.maxConnections = this.#limits.connections;
		await new Promise<void>((resolve, reject) => {
			server.once('error', reject);
			server.listen(path, () => {
				server.off('error', reject);
				resolve();
			});
		});
		server.on('error', (error) => this.#logger.warn({ lab, err: error }, 'incus: a terminal socket failed'));
		// The lab's root is not this host's root: it may connect, nothing more (the directory is read-only to it).
		await chmod(path, 0o666);
		return { server, waiting };
	}

	/** Reads the token (at most its length, within the deadline) and hands the connection to the attach waiting for it. */
	#accept(socket: Socket, waiting: Map<string, (socket: Socket | null) => void>, lab: string): void {
		let read = Buffer.alloc(0);
		const refuse = (why: string) => {
			this.#logger.warn({ lab, why }, 'incus: a connection to a lab\u2019s terminal socket was refused');
			socket.destroy();
		};
		const deadline = setTimeout(() => refuse(`no token within ${this.#limits.tokenMs} ms`), this.#limits.tokenMs);
		const onData = (chunk: Buffer) => {
			read = Buffer.concat([read, chunk]);
			if (read.length < TOKEN_LENGTH) return;
			clearTimeout(deadline);
			socket.pause();
			socket.off('data', onData);
			socket.off('end', onEnd);
			const token = read.subarray(0, TOKEN_LENGTH).toString('latin1');
			const settle = waiting.get(token);
			if (!settle) return refuse('an unknown token');
			waiting.delete(token);
			if (read.length > TOKEN_LENGTH) socket.unshift(read.subarray(TOKEN_LENGTH));
			settle(socket);
		};
		const onEnd = () => {
			clearTimeout(deadline);
			socket.destroy();
		};
		// Errors end in 'close'; the terminal's own handlers take over once the token is read.
		socket.on('error', () => {});
		socket.once('close', () => clearTimeout(deadline));
		socket.on('data', onData);
		socket.on('end', onEnd);
		socket.resume();
	}
}
