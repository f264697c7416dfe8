/**
 * Blocks that keep running (`until`) never report `done`: each counts as working once its terminal's
 * output, after the click, matches its pattern. Output is read as plain text (escape sequences and
 * carriage returns removed), keeping a bounded tail so that a flood does not slow every check.
 */

/** The tail of a terminal's output that a pattern is matched against. */
const TAIL_CHARS = 65_536;

/** OSC sequences, CSI sequences and carriage returns: what makes output differ from its text. */
const NOT_TEXT = /\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b\[[0-?]*[ -/]*[@-~]|\r/g;

interface Watch {
	term: string;
	pattern: RegExp;
	text: string;
	decoder: TextDecoder;
}

export class UntilWatches {
	readonly #watches = new Map<string, Watch>();

	get size(): number {
		return this.#watches.size;
	}

	/** Watches terminal `term` for `source` (a regular expression, multi-line) on behalf of `block`; an invalid one is ignored. */
	watch(term: string, block: string, source: string): void {
		let pattern: RegExp;
		try {
			pattern = new RegExp(source, 'm');
		} catch {
			return;
		}
		this.#watches.set(block, { term, pattern, text: '', decoder: new TextDecoder() });
	}

	/** Stops watching for `block` (it reported `done` after all). */
	forget(block: string): void {
		this.#watches.delete(block);
	}

	/** Reads `bytes` of terminal `term`'s output; returns the blocks whose pattern now matches (they are no longer watched). */
	output(term: string, bytes: Uint8Array): string[] {
		const matched: string[] = [];
		for (const [block, watch] of this.#watches) {
			if (watch.term !== term) continue;
			watch.text = (watch.text + watch.decoder.decode(bytes, { stream: true })).slice(-TAIL_CHARS);
			if (!watch.pattern.test(watch.text.replace(NOT_TEXT, ''))) continue;
			this.#watches.delete(block);
			matched.push(block);
		}
		return matched;
	}
}
