/**
 * Shell-integration markers (FinalTerm / OSC 133) in a terminal's output stream:
 *
 *   ESC ] 133 ; A ; nonce=N BEL        prompt starts
 *   ESC ] 133 ; B ; nonce=N BEL        prompt ends, command input starts
 *   ESC ] 133 ; C ; nonce=N BEL        command output starts (the shell is busy)
 *   ESC ] 133 ; D ; <exit> ; nonce=N BEL   command finished with <exit>
 *   ESC ] 133 ; Z ; <exit> ; nonce=N BEL   podlab only: the shell itself exited with <exit>
 *
 * (ESC \ may end a sequence instead of BEL.) Only markers carrying this terminal's nonce count, so a
 * file that happens to contain such bytes cannot fake a finished command. The parser only observes:
 * the bytes still reach the client, where xterm.js ignores OSC 133.
 */
export type ShellEvent =
	| { kind: 'prompt-start' }
	| { kind: 'prompt-end' }
	| { kind: 'command-start' }
	| { kind: 'command-end'; exit: number }
	| { kind: 'shell-exit'; exit: number };

const ESC = 0x1b;
const BEL = 0x07;
const PREFIX = Buffer.from('\x1b]133;');
/** Longest marker we wait for; anything longer is not ours. */
const MAX_MARKER_BYTES = 256;

export class Osc133Parser {
	readonly #nonce: string;
	/** The unfinished tail of the previous chunk, when it may start a marker. */
	#pending: Buffer | null = null;

	constructor(nonce: string) {
		this.#nonce = nonce;
	}

	/** Scan one chunk of output; returns the markers completed in it, in order. */
	feed(chunk: Buffer): ShellEvent[] {
		const data = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
		this.#pending = null;
		const events: ShellEvent[] = [];
		let index = 0;
		while (index < data.length) {
			const start = data.indexOf(ESC, index);
			if (start < 0) break;
			const available = data.length - start;
			const prefixLength = Math.min(available, PREFIX.length);
			if (data.compare(PREFIX, 0, prefixLength, start, start + prefixLength) !== 0) {
				index = start + 1;
				continue;
			}
			if (available <= PREFIX.length) {
				this.#pending = Buffer.from(data.subarray(start));
				break;
			}
			const end = findTerminator(data, start + PREFIX.length, start + MAX_MARKER_BYTES);
			if (end === 'incomplete') {
				this.#pending = Buffer.from(data.subarray(start));
				break;
			}
			if (end === 'invalid') {
				index = start + 1;
				continue;
			}
			const event = this.#decode(data.toString('latin1', start + PREFIX.length, end.bodyEnd));
			if (event) events.push(event);
			index = end.next;
		}
		return events;
	}

	#decode(body: string): ShellEvent | null {
		const fields = body.split(';');
		if (fields.at(-1) !== `nonce=${this.#nonce}`) return null;
		switch (fields[0]) {
			case 'A':
				return { kind: 'prompt-start' };
			case 'B':
				return { kind: 'prompt-end' };
			case 'C':
				return { kind: 'command-start' };
			case 'D':
			case 'Z': {
				const exit = Number(fields[1]);
				if (fields.length !== 3 || !Number.isInteger(exit)) return null;
				return fields[0] === 'D' ? { kind: 'command-end', exit } : { kind: 'shell-exit', exit };
			}
			default:
				return null;
		}
	}
}

/**
 * Finds BEL or ESC \ between `from` and `limit`. "incomplete": the data ends first (wait for more);
 * "invalid": the limit is hit or another sequence starts, so this is not a marker.
 */
function findTerminator(
	data: Buffer,
	from: number,
	limit: number,
): { bodyEnd: number; next: number } | 'incomplete' | 'invalid' {
	const stop = Math.min(data.length, limit);
	for (let index = from; index < stop; index++) {
		const byte = data[index];
		if (byte === BEL) return { bodyEnd: index, next: index + 1 };
		if (byte === ESC) {
			if (index + 1 >= data.length) return 'incomplete';
			return data[index + 1] === 0x5c ? { bodyEnd: index, next: index + 2 } : 'invalid';
		}
	}
	return stop < limit ? 'incomplete' : 'invalid';
}
