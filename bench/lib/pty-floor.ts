/**
 * The pty floor for echo: `cat` on a pty of this process, typed into directly, no network. A key's
 * round trip is then only the line discipline's echo and one read, the part of every WebSocket
 * terminal's echo that is the pty's, which the network floor (a `ws` echo server) does not pay.
 */
import { spawn, type IPty } from 'node-pty';
import type { BenchTerminal, OutputChunk } from './terminal.ts';

/** A pty of this process running `file`, as the floors use one: 80×24, bytes out, a bare environment. */
export function spawnFloorPty(file: string, args: string[]): IPty {
	return spawn(file, args, { name: 'xterm-256color', cols: 80, rows: 24, env: { LANG: 'C.UTF-8', PATH: process.env.PATH ?? '/usr/bin:/bin' }, encoding: null });
}

export class PtyFloorTerminal implements BenchTerminal {
	readonly #pty: IPty;
	readonly #listeners = new Set<(chunk: OutputChunk) => void>();
	bytes = 0;
	failure: string | null = null;
	#closing = false;

	constructor() {
		// `cat` in canonical mode: the line discipline echoes each key as the benchmarks' keystrokes expect.
		this.#pty = spawnFloorPty('cat', []);
		this.#pty.onData((data) => {
			const chunk = data as unknown as Buffer;
			this.bytes += chunk.length;
			for (const listener of this.#listeners) listener(chunk);
		});
		this.#pty.onExit(({ exitCode, signal }) => {
			if (!this.#closing) this.failure ??= `cat exited: code ${exitCode}, signal ${signal}`;
		});
	}

	type(text: string): void {
		this.#pty.write(text);
	}

	onOutput(listener: (chunk: OutputChunk) => void): () => void {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	}

	close(): void {
		this.#closing = true;
		this.#pty.kill('SIGKILL');
	}
}
