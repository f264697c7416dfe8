/**
 * Starts the network floor (bench/lib/floor-server.ts) in a child process and connects to it with
 * `ws`, the same client library the podlab benchmarks use.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { NODE } from '../../tests/helpers/gateway.ts';
import type { Cleanup } from './cleanup.ts';
import type { BenchTerminal, Keystroke, OutputChunk } from './terminal.ts';

const SERVER = fileURLToPath(new URL('./floor-server.ts', import.meta.url));

/** The floor echoes every byte as it is. */
export const FLOOR_KEYSTROKES: readonly Keystroke[] = [
	{ key: 'k', echo: 0x6b },
	{ key: '\x7f', echo: 0x7f },
];

export interface RunningFloor {
	url: string;
	pid: number;
	process: ChildProcess;
}

/** Starts the floor server; with `relayHop` (bench/lib/relay-hop.ts's binary) it serves the relay-echo floor too. */
export async function startNetworkFloor(cleanup: Cleanup, { relayHop }: { relayHop?: string } = {}): Promise<RunningFloor> {
	const child = spawn(NODE, [SERVER, ...(relayHop ? [relayHop] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
	cleanup.defer('network floor server', async () => {
		if (child.exitCode !== null || child.signalCode !== null) return;
		const exited = once(child, 'exit');
		child.kill('SIGTERM');
		await exited;
	});
	const port = await new Promise<number>((resolve, reject) => {
		let output = '';
		const timer = setTimeout(() => reject(new Error(`the network floor server did not start within 10 s: ${output}`)), 10_000);
		child.stdout!.on('data', (chunk: Buffer) => {
			output += chunk.toString();
			const line = output.split('\n').find((candidate) => candidate.startsWith('{'));
			if (!line) return;
			clearTimeout(timer);
			resolve((JSON.parse(line) as { port: number }).port);
		});
		child.once('exit', (code) => reject(new Error(`the network floor server exited with ${code}`)));
	});
	return { url: `ws://127.0.0.1:${port}/`, pid: child.pid!, process: child };
}

export class FloorTerminal implements BenchTerminal {
	readonly socket: WebSocket;
	bytes = 0;
	failure: string | null = null;
	readonly #listeners = new Set<(chunk: OutputChunk) => void>();
	#closing = false;

	private constructor(socket: WebSocket) {
		this.socket = socket;
		socket.on('message', (data) => {
			this.bytes += (data as Buffer).length;
			for (const listener of this.#listeners) listener(data as Buffer);
		});
		socket.on('close', (code) => {
			if (!this.#closing) this.failure ??= `the floor server closed the socket: ${code}`;
		});
	}

	static async open(floor: RunningFloor): Promise<FloorTerminal> {
		const socket = new WebSocket(floor.url, { perMessageDeflate: false });
		await new Promise((resolve, reject) => {
			socket.once('open', resolve);
			socket.once('error', reject);
		});
		return new FloorTerminal(socket);
	}

	type(text: string): void {
		if (this.socket.readyState === WebSocket.OPEN) this.socket.send(Buffer.from(text), { binary: true });
	}

	/** Asks the server for `bytes` bytes of "y" in frames of `frameBytes`. */
	requestFlood(bytes: number, frameBytes: number): void {
		this.socket.send(JSON.stringify({ flood: bytes, frameBytes }));
	}

	/** Asks the server to relay the flood command's output from a pty of its own, between its markers. */
	requestPtyFlood(bytes: number): void {
		this.socket.send(JSON.stringify({ ptyFlood: bytes }));
	}

	/** From now on, keys go to `cat` on a pty behind a relay process of the server's (the relay-echo floor). */
	relayEcho(): void {
		this.socket.send(JSON.stringify({ relayEcho: true }));
	}

	onOutput(listener: (chunk: OutputChunk) => void): () => void {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	}

	close(): void {
		this.#closing = true;
		this.socket.close();
	}
}
