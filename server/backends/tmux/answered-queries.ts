/**
 * tmux answers some terminal queries itself (device attributes, cursor position, …), so those are
 * taken out of what the browser gets: otherwise xterm.js would answer too, and the second answer
 * would reach the shell as typed input.
 */

/** CSI queries (parameters and final byte) that tmux 3.3 answers for the pane, checked on a real tmux. */
const ANSWERED_BY_TMUX = new Set(['c', '0c', '>c', '>0c', '5n', '6n', '>q', '>0q', '18t']);
const LONGEST_QUERY = 3;
const CSI_PARAMETER = (byte: number) => byte >= 0x20 && byte <= 0x3f;
const ESC = 0x1b;

/**
 * Takes the queries tmux answers out of a pane's output. A sequence cut by the end of a chunk is held
 * back until the next one: an unfinished escape sequence shows nothing, so nothing shows late.
 */
export class TmuxAnsweredQueries {
	#held: Buffer | null = null;

	filter(chunk: Buffer): Buffer {
		const data = this.#held ? Buffer.concat([this.#held, chunk]) : chunk;
		this.#held = null;
		const kept: Buffer[] = [];
		let copied = 0;
		for (let at = data.indexOf(ESC); at >= 0 && at < data.length; at = data.indexOf(ESC, at + 1)) {
			if (at + 1 === data.length || (data[at + 1] === 0x5b && this.#unfinished(data, at + 2))) {
				this.#held = Buffer.from(data.subarray(at));
				kept.push(data.subarray(copied, at));
				return Buffer.concat(kept);
			}
			if (data[at + 1] !== 0x5b) continue;
			let end = at + 2;
			while (end < data.length && CSI_PARAMETER(data[end]!)) end++;
			if (ANSWERED_BY_TMUX.has(data.toString('latin1', at + 2, end + 1))) {
				kept.push(data.subarray(copied, at));
				copied = end + 1;
			}
			at = end;
		}
		if (copied === 0) return data;
		kept.push(data.subarray(copied));
		return Buffer.concat(kept);
	}

	/** The CSI starting its parameters at `from` runs to the end of the data, still short enough to be a query. */
	#unfinished(data: Buffer, from: number): boolean {
		for (let index = from; index < data.length; index++) if (!CSI_PARAMETER(data[index]!)) return false;
		return data.length - from <= LONGEST_QUERY;
	}
}
