/**
 * Shell-integration markers (FinalTerm / OSC 133) in a terminal's output stream:
 *
 *   ESC ] 133 ; A ; nonce=N BEL        prompt starts
 *   ESC ] 133 ; B ; nonce=N BEL        prompt ends, command input starts
 *   ESC ] 133 ; E ; <command> ; nonce=N BEL   podlab only: the command line about to run, escaped
 *   ESC ] 133 ; C ; nonce=N BEL        command output starts (the shell is busy)
 *   ESC ] 133 ; D ; <exit> ; nonce=N BEL   command finished with <exit>
 *   ESC ] 133 ; Z ; <exit> ; nonce=N BEL   podlab only: the shell itself exited with <exit>
 *
 * (ESC \ may end a sequence instead of BEL.) Only markers carrying this terminal's nonce count, so a
 * file that happens to contain such bytes cannot fake a finished command. The parser only observes:
 * the bytes still reach the client, where xterm.js ignores OSC 133.
 *
 * E's <command> (UTF-8, at most {@link COMMAND_LINE_MAX_CHARS} characters before escaping) has
 * `\\` for a backslash, `\x3b` for `;`, `\n` and `\t` for a newline and a tab; the shell turns any
 * other control character into a space, so the marker holds no `;`, BEL or ESC of its own.
 */
export type ShellEvent =
	| { kind: 'prompt-start' }
	| { kind: 'prompt-end' }
	| { kind: 'command-line'; command: string }
	| { kind: 'command-start' }
	| { kind: 'command-end'; exit: number }
	| { kind: 'shell-exit'; exit: number };

const ESC = 0x1b;
const BEL = 0x07;
const PREFIX = Buffer.from('\x1b]133;');
/** Longest marker we wait for; anything longer is not ours. */
const MAX_MARKER_BYTES = 256;
/** The shell cuts a command line to this many characters before escaping it (podlab.bashrc). */
export const COMMAND_LINE_MAX_CHARS = 1000;
/**
 * E is the one marker that carries text. A character takes at most 4 bytes (`;` escaped as `\x3b`, or
 * UTF-8), so this holds the longest command line the shell sends, with room for the rest.
 */
const MAX_COMMAND_LINE_MARKER_BYTES = 4 * COMMAND_LINE_MAX_CHARS + MAX_MARKER_BYTES;
const COMMAND_LINE_PREFIX = Buffer.from('\x1b]133;E;');

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
			const limit = start + (isCommandLine(data, start) ? MAX_COMMAND_LINE_MARKER_BYTES : MAX_MARKER_BYTES);
			const end = findTerminator(data, start + PREFIX.length, limit);
			if (end === 'incomplete') {
				this.#pending = Buffer.from(data.subarray(start));
				break;
			}
			if (end === 'invalid') {
				index = start + 1;
				continue;
			}
			const event = this.#decode(data.toString('utf8', start + PREFIX.length, end.bodyEnd));
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
			case 'E': {
				const command = fields.length === 3 ? unescapeCommandLine(fields[1]!) : null;
				return command === null ? null : { kind: 'command-line', command };
			}
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

/** Whether the marker at `start` is an E marker (so far as the data goes). */
function isCommandLine(data: Buffer, start: number): boolean {
	const length = Math.min(COMMAND_LINE_PREFIX.length, data.length - start);
	return data.compare(COMMAND_LINE_PREFIX, 0, length, start, start + length) === 0;
}

/** Undoes the shell's escaping of a command line; null when the text is not escaped as the shell does. */
function unescapeCommandLine(escaped: string): string | null {
	let valid = true;
	const command = escaped.replace(/\\(x[0-9a-fA-F]{2}|.|$)/gs, (_, escape: string) => {
		if (escape === '\\') return '\\';
		if (escape === 'n') return '\n';
		if (escape === 't') return '\t';
		if (escape.startsWith('x') && escape.length === 3) return String.fromCharCode(Number.parseInt(escape.slice(1), 16));
		valid = false;
		return '';
	});
	return valid ? command : null;
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
