/**
 * tmux's control-mode output (`tmux -C`), split into events. Pure: bytes in, events out, no I/O.
 * The bytes come from the lab's side, so every length is bounded ({@link CONTROL_LIMITS}) and each
 * byte is looked at a bounded number of times.
 */
import { CONTROL_LIMITS, type ParserLimits } from './control-limits.ts';

export type ControlEvent =
	/** Bytes the pane's programs wrote. */
	| { kind: 'output'; data: Buffer }
	/**
	 * The reply to one command: its lines, between `%begin` and `%end` (or `%error`). `own`: the
	 * command came from this client's input (tmux's flag 1), not from the command line that started it.
	 */
	| { kind: 'reply'; lines: Buffer[]; error: boolean; own: boolean }
	/** A `%podlab-NAME VALUE` line from podlab-host.sh. */
	| { kind: 'podlab'; name: string; value: string }
	/** A line outside the protocol: something podlab-host.sh said. */
	| { kind: 'text'; data: Buffer }
	/** tmux's client is leaving. */
	| { kind: 'exit' }
	/** The far side broke a bound ({@link CONTROL_LIMITS}): nothing after it is read. */
	| { kind: 'overflow'; what: string };

const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;

/**
 * Splits tmux's control-mode output into events. Feed it raw bytes as they come. Each byte is looked
 * at a bounded number of times: a line cut across chunks is kept as its pieces and joined once.
 */
export class ControlModeParser {
	readonly #limits: ParserLimits;
	/** The start of a line cut by the end of a chunk, in pieces. */
	#pending: Buffer[] = [];
	#pendingBytes = 0;
	/** The reply being read: its command number, lines and their length. */
	#reply: { number: string; own: boolean; lines: Buffer[]; bytes: number } | null = null;
	#overflowed = false;

	constructor(limits: ParserLimits = CONTROL_LIMITS) {
		this.#limits = limits;
	}

	feed(chunk: Buffer): ControlEvent[] {
		if (this.#overflowed) return [];
		const events: ControlEvent[] = [];
		let start = 0;
		for (let end = chunk.indexOf(NEWLINE); end >= 0; end = chunk.indexOf(NEWLINE, start)) {
			let line = chunk.subarray(start, end);
			start = end + 1;
			if (this.#pendingBytes > 0) {
				line = Buffer.concat([...this.#pending, line], this.#pendingBytes + line.length);
				this.#pending = [];
				this.#pendingBytes = 0;
			}
			const event = line.length > this.#limits.lineBytes ? this.#overflow(`a line of ${line.length} bytes`) : this.#line(line);
			if (event) events.push(event);
			if (this.#overflowed) return events;
		}
		if (start < chunk.length) {
			this.#pendingBytes += chunk.length - start;
			if (this.#pendingBytes > this.#limits.lineBytes) {
				events.push(this.#overflow(`a line longer than ${this.#limits.lineBytes} bytes`));
				return events;
			}
			this.#pending.push(Buffer.from(chunk.subarray(start)));
		}
		return events;
	}

	#overflow(what: string): ControlEvent {
		this.#overflowed = true;
		this.#pending = [];
		this.#pendingBytes = 0;
		this.#reply = null;
		return { kind: 'overflow', what };
	}

	#line(line: Buffer): ControlEvent | null {
		if (this.#reply) {
			// A reply line may be anything the command printed; only its own guard ends it.
			const guard = line[0] === 0x25 /* % */ ? /^%(end|error) \d+ (\d+) \d+$/.exec(line.toString('latin1')) : null;
			if (guard && guard[2] === this.#reply.number) {
				const { lines, own } = this.#reply;
				this.#reply = null;
				return { kind: 'reply', lines, error: guard[1] === 'error', own };
			}
			this.#reply.bytes += line.length + 1;
			if (this.#reply.bytes > this.#limits.replyBytes) return this.#overflow(`a reply longer than ${this.#limits.replyBytes} bytes`);
			if (this.#reply.lines.length >= this.#limits.replyLines) return this.#overflow(`a reply of more than ${this.#limits.replyLines} lines`);
			this.#reply.lines.push(Buffer.from(line));
			return null;
		}
		if (line[0] !== 0x25 /* % */) return { kind: 'text', data: Buffer.from(line) };
		const space = line.indexOf(0x20);
		const word = line.toString('latin1', 1, space < 0 ? line.length : space);
		switch (word) {
			case 'output': {
				// %output %<pane> <data>
				const dataStart = line.indexOf(0x20, space + 1);
				return dataStart < 0 ? null : { kind: 'output', data: decodeOutput(line.subarray(dataStart + 1)) };
			}
			case 'begin': {
				// %begin <time> <command number> <flags>
				const [, , number, flags] = line.toString('latin1').split(' ');
				if (number) this.#reply = { number, own: flags === '1', lines: [], bytes: 0 };
				return null;
			}
			case 'exit':
				return { kind: 'exit' };
			default:
				if (word.startsWith('podlab-')) {
					return { kind: 'podlab', name: word.slice('podlab-'.length), value: space < 0 ? '' : line.toString('utf8', space + 1) };
				}
				// Notifications (%session-changed, %layout-change, …): nothing a terminal needs.
				return null;
		}
	}
}

/** Undoes tmux's escaping of `%output` data: bytes below 32 and the backslash come as \ooo (octal). */
export function decodeOutput(data: Buffer): Buffer {
	if (!data.includes(BACKSLASH)) return Buffer.from(data);
	const decoded = Buffer.allocUnsafe(data.length);
	let length = 0;
	for (let index = 0; index < data.length; index++) {
		const byte = data[index]!;
		if (byte === BACKSLASH && isOctal(data[index + 1]) && isOctal(data[index + 2]) && isOctal(data[index + 3])) {
			decoded[length++] = ((data[index + 1]! - 48) << 6) | ((data[index + 2]! - 48) << 3) | (data[index + 3]! - 48);
			index += 3;
		} else {
			decoded[length++] = byte;
		}
	}
	return decoded.subarray(0, length);
}

function isOctal(byte: number | undefined): boolean {
	return byte !== undefined && byte >= 0x30 && byte <= 0x37;
}
