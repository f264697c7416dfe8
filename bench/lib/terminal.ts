/**
 * What every benchmark target (podlab, wetty, the network floor) looks like to the benchmarks: one
 * terminal that takes keystrokes and hands back output chunks. Output is a Buffer for binary frames
 * and a string for socket.io's text frames; the benchmarks only look at ASCII in it.
 */
export type OutputChunk = Buffer | string;

export interface BenchTerminal {
	/** Keyboard input, as a browser client would send it. */
	type(text: string): void;
	/** Adds a listener for every output chunk, in order. Returns a function that removes it. */
	onOutput(listener: (chunk: OutputChunk) => void): () => void;
	/** Output bytes received so far. */
	readonly bytes: number;
	/** Why the connection ended early (close code and reason), or null while it is fine. */
	readonly failure: string | null;
	close(): void;
}

/**
 * A key and the byte that shows its echo arrived. In a pty in canonical mode (`cat` reading), the line
 * discipline echoes a letter as itself and DEL as "\b \b"; the benchmarks alternate the two so the line
 * never grows, and recognise DEL's echo by its space.
 */
export interface Keystroke {
	key: string;
	echo: number;
}

export const PTY_KEYSTROKES: readonly Keystroke[] = [
	{ key: 'k', echo: 0x6b },
	{ key: '\x7f', echo: 0x20 },
];

/** Bytes of `chunk` equal to `byte`. */
export function countByte(chunk: OutputChunk, byte: number): number {
	const needle = typeof chunk === 'string' ? String.fromCharCode(byte) : byte;
	let count = 0;
	// Both Buffer and string have indexOf(needle, from); TypeScript cannot pick one signature for the union.
	const indexOf = (from: number) => (typeof chunk === 'string' ? chunk.indexOf(needle as string, from) : chunk.indexOf(needle as number, from));
	for (let index = indexOf(0); index >= 0; index = indexOf(index + 1)) count++;
	return count;
}

/**
 * Finds `text` in an output stream whose chunks may split it: feed every chunk, get the position of
 * the first match (bytes from the start of the stream to the match's first byte), once.
 */
export class StreamMatcher {
	readonly #text: string;
	#tail = '';
	#seen = 0;

	constructor(text: string) {
		this.#text = text;
	}

	/** Stream offset where `text` starts, or -1 when it is not complete yet. */
	feed(chunk: OutputChunk): number {
		const keep = this.#text.length - 1;
		const head = typeof chunk === 'string' ? chunk.slice(0, keep) : chunk.toString('latin1', 0, Math.min(chunk.length, keep));
		let found = -1;
		const across = (this.#tail + head).indexOf(this.#text);
		if (across >= 0) found = this.#seen - this.#tail.length + across;
		else {
			const inside = chunk.indexOf(this.#text);
			if (inside >= 0) found = this.#seen + inside;
		}
		const tailSource = typeof chunk === 'string' ? chunk.slice(-keep) : chunk.toString('latin1', Math.max(0, chunk.length - keep));
		this.#tail = (this.#tail + tailSource).slice(-keep);
		this.#seen += chunk.length;
		return found;
	}
}

/** Resolves once `text` has appeared in the terminal's output; rejects after `timeoutMs`. */
export function waitForOutput(terminal: BenchTerminal, text: string, timeoutMs: number): Promise<void> {
	const matcher = new StreamMatcher(text);
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			stop();
			reject(new Error(`no "${text}" in the output within ${timeoutMs} ms${terminal.failure ? ` (${terminal.failure})` : ''}`));
		}, timeoutMs);
		const stop = terminal.onOutput((chunk) => {
			if (matcher.feed(chunk) < 0) return;
			clearTimeout(timer);
			stop();
			resolve();
		});
	});
}

/**
 * Resolves once the terminal has sent output and then nothing for `quietMs` (a shell printed its
 * prompt and waits); rejects after `timeoutMs`. `after`: output must have come after this many bytes
 * (default: any output, including what came before the call).
 */
export function waitForQuiet(terminal: BenchTerminal, quietMs: number, timeoutMs: number, after = 0): Promise<void> {
	return new Promise((resolve, reject) => {
		let quietTimer: NodeJS.Timeout | null = terminal.bytes > after ? setTimeout(done, quietMs) : null;
		const timer = setTimeout(() => {
			stop();
			if (quietTimer) clearTimeout(quietTimer);
			reject(new Error(`the terminal did not settle within ${timeoutMs} ms${terminal.failure ? ` (${terminal.failure})` : ''}`));
		}, timeoutMs);
		const stop = terminal.onOutput(() => {
			if (quietTimer) clearTimeout(quietTimer);
			quietTimer = setTimeout(done, quietMs);
		});
		function done(): void {
			clearTimeout(timer);
			stop();
			resolve();
		}
	});
}

/**
 * Starts `cat` in a terminal's shell and waits until it reads, so that keystrokes are echoed by the
 * pty's line discipline. The marker is typed with quotes inside, so only its output matches.
 */
export async function startCat(terminal: BenchTerminal, timeoutMs = 30_000): Promise<void> {
	const ready = waitForOutput(terminal, 'CAT-READY', timeoutMs);
	terminal.type('echo CAT""-READY; cat\r');
	await ready;
	await waitForQuiet(terminal, 100, timeoutMs);
}

/** Ends `cat` with Ctrl-C and waits for the prompt to settle. */
export async function stopCat(terminal: BenchTerminal, timeoutMs = 30_000): Promise<void> {
	const settled = waitForQuiet(terminal, 150, timeoutMs, terminal.bytes);
	terminal.type('\x03');
	await settled;
}
