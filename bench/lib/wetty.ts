/**
 * The peer: wetty 3.2 (Node, node-pty, xterm.js, socket.io), started with a local command and driven the
 * way its own browser client drives it (node_modules/wetty/build/client/wetty.js):
 * - input: `emit('input', text)`; resize: `emit('resize', {cols, rows})`;
 * - output: `on('data', text)` (node-pty decodes to UTF-8 text; socket.io sends text frames);
 * - flow control: the client counts received characters and, every 262,144 of them, sends
 *   `emit('commit', 262144)` once xterm rendered them; the server pauses the pty above 2 MiB
 *   uncommitted and resumes below 512 KiB (build/server/flowcontrol.js).
 * wetty runs the command locally (`/usr/bin/env -S <command>` in a pty) only when it runs as root and
 * its ssh host is localhost; otherwise it logs in over ssh, which this benchmark does not do.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { io, type Socket } from 'socket.io-client';
import { NODE } from '../../tests/helpers/gateway.ts';
import type { Cleanup } from './cleanup.ts';
import { inspectOption, inspectorUrl } from './inspector.ts';
import { descendants } from './proc.ts';
import type { BenchTerminal, OutputChunk } from './terminal.ts';

const WETTY_MAIN = fileURLToPath(new URL('../../node_modules/wetty/build/main.js', import.meta.url));
/** The wetty client's commit size (`ackBytes` of its flow-control class). */
const WETTY_COMMIT_CHARS = 262_144;

export interface RunningWetty {
	url: string;
	pid: number;
	process: ChildProcess;
	/** Its inspector's address, when started with `inspect`. */
	inspector?: string;
}

/** Why wetty cannot be measured here, or null when it can. */
export function wettyUnavailable(): string | null {
	if (!existsSync(WETTY_MAIN)) return 'wetty is not installed (it is a devDependency: run `npm install`)';
	if (process.getuid?.() !== 0) {
		return 'wetty starts a local shell only when it runs as root (otherwise it logs in over ssh, which needs an sshd and a password); run the benchmarks as root to compare with it';
	}
	return null;
}

/** Starts wetty on 127.0.0.1 running `bash` in a scratch directory, with a clean environment. */
/** Starts wetty; with `inspect`, its inspector listens on loopback (inspector.ts). */
export async function startWetty(cleanup: Cleanup, { inspect = false } = {}): Promise<RunningWetty> {
	const workdir = mkdtempSync(join(tmpdir(), 'podlab-bench-wetty-'));
	cleanup.defer('wetty scratch directory', () => rmSync(workdir, { recursive: true, force: true }));
	const port = await freePort();
	const env: Record<string, string> = { LANG: 'C.UTF-8', NODE_ENV: 'production' };
	for (const name of ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'TZ']) if (process.env[name]) env[name] = process.env[name]!;
	if (inspect) env.NODE_OPTIONS = inspectOption();
	const child = spawn(NODE, [WETTY_MAIN, '--host', '127.0.0.1', '--port', String(port), '--command', 'bash'], {
		cwd: workdir,
		env,
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	let logs = '';
	const keep = (chunk: Buffer) => (logs = (logs + chunk.toString()).slice(-8192));
	child.stdout!.on('data', keep);
	child.stderr!.on('data', keep);
	const running: RunningWetty = { url: `http://127.0.0.1:${port}`, pid: child.pid!, process: child };
	cleanup.defer('wetty', () => stopWetty(running));
	const url = running.url;
	const started = performance.now();
	while (true) {
		if (child.exitCode !== null) throw new Error(`wetty exited with ${child.exitCode} before listening:\n${logs}`);
		if (performance.now() - started > 15_000) throw new Error(`wetty did not listen on ${url} within 15 s:\n${logs}`);
		const listening = await fetch(`${url}/`).then(
			(response) => response.ok,
			() => false,
		);
		if (listening) break;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	if (inspect) {
		running.inspector = inspectorUrl(logs) ?? undefined;
		if (!running.inspector) throw new Error(`wetty did not print its inspector address:\n${logs}`);
	}
	return running;
}

/**
 * SIGTERM (wetty has no handler: it exits at once and its ptys hang up), then SIGKILL for wetty and
 * any shell of it still alive. Resolves with how long wetty took to exit (ms). Idempotent.
 */
export async function stopWetty(wetty: RunningWetty): Promise<number> {
	const child = wetty.process;
	if (child.exitCode !== null || child.signalCode !== null) return 0;
	const shells = descendants(wetty.pid);
	const started = performance.now();
	const exited = once(child, 'exit');
	child.kill('SIGTERM');
	await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
	const took = performance.now() - started;
	if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
	for (const pid of shells) {
		try {
			process.kill(pid, 'SIGKILL');
		} catch {
			// Ended with wetty, as it should.
		}
	}
	return took;
}

export class WettyTerminal implements BenchTerminal {
	readonly socket: Socket;
	/** `data` events and characters received, commits sent. */
	frames = 0;
	bytes = 0;
	acks = 0;
	/** performance.now() when the socket was asked for, and when the first output byte (the prompt) came. */
	connectStartedAt = 0;
	firstOutputAt = 0;
	failure: string | null = null;
	readonly #listeners = new Set<(chunk: OutputChunk) => void>();
	#uncommitted = 0;
	#closing = false;

	private constructor(socket: Socket) {
		this.socket = socket;
		socket.on('data', (text: string) => {
			if (this.frames === 0) this.firstOutputAt = performance.now();
			this.frames++;
			this.bytes += text.length;
			for (const listener of this.#listeners) listener(text);
			this.#uncommitted += text.length;
			if (this.#uncommitted >= WETTY_COMMIT_CHARS) {
				this.#uncommitted -= WETTY_COMMIT_CHARS;
				this.acks++;
				socket.emit('commit', WETTY_COMMIT_CHARS);
			}
		});
		socket.on('logout', () => (this.failure ??= 'wetty: the shell exited'));
		socket.on('disconnect', (reason) => {
			if (!this.#closing) this.failure ??= `wetty disconnected: ${reason}`;
		});
	}

	/** Connects (WebSocket transport) and resolves once wetty has spawned the shell (`login`). */
	static async open(wetty: RunningWetty): Promise<WettyTerminal> {
		const connectStartedAt = performance.now();
		const socket = io(wetty.url, { path: '/socket.io', transports: ['websocket'], forceNew: true, reconnection: false, timeout: 30_000 });
		const terminal = new WettyTerminal(socket);
		terminal.connectStartedAt = connectStartedAt;
		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error('wetty did not start a shell within 30 s')), 30_000);
			socket.once('login', () => {
				clearTimeout(timer);
				resolve();
			});
			socket.once('connect_error', (error) => {
				clearTimeout(timer);
				reject(new Error(`wetty refused the connection: ${error.message}`));
			});
		});
		// What its client does on login: fit the terminal to the page.
		socket.emit('resize', { cols: 80, rows: 24 });
		return terminal;
	}

	type(text: string): void {
		this.socket.emit('input', text);
	}

	onOutput(listener: (chunk: OutputChunk) => void): () => void {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	}

	close(): void {
		this.#closing = true;
		this.socket.disconnect();
	}
}

function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const { port } = server.address() as { port: number };
			server.close(() => resolve(port));
		});
	});
}
