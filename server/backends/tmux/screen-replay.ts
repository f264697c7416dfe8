/**
 * A reattached pane shown again. The browser lost the output with the old gateway, so the host
 * script's reattach (ssh/host.sh) has tmux reply with the cursor (`podlab-cursor X Y HEIGHT`), then
 * with the pane's history and screen (`capture-pane -e`); the browser gets them back as bytes.
 */

/**
 * What the browser needs to show a reattached pane: its history and screen as tmux captured them
 * (`capture-pane -e`), then the cursor, moved relative to the last line since the browser's
 * terminal may be taller than the pane.
 */
export function replayScreen(lines: Buffer[], cursor: { x: number; y: number; height: number }): Buffer {
	const up = Math.max(0, cursor.height - 1 - cursor.y);
	const parts: Buffer[] = [Buffer.from('\x1b[m')];
	lines.forEach((line, index) => parts.push(index === 0 ? line : Buffer.concat([Buffer.from('\r\n'), line])));
	parts.push(Buffer.from(`\x1b[m${up > 0 ? `\x1b[${up}A` : ''}\x1b[${cursor.x + 1}G`));
	return Buffer.concat(parts);
}

/** Watches a client's replies for a reattach's two: the cursor, then the screen it belongs to. */
export class ScreenReplay {
	/** Set by the `podlab-cursor` reply of a reattach: the next reply is the screen to replay. */
	#cursor: { x: number; y: number; height: number } | null = null;

	/** Takes the next reply; returns what shows the pane again when it was the reattach's screen, else null. */
	reply(lines: Buffer[], error: boolean): Buffer | null {
		if (this.#cursor) {
			const cursor = this.#cursor;
			this.#cursor = null;
			return error ? null : replayScreen(lines, cursor);
		}
		const cursor = lines.length === 1 ? /^podlab-cursor (\d+) (\d+) (\d+)$/.exec(lines[0]!.toString('latin1')) : null;
		if (cursor) this.#cursor = { x: Number(cursor[1]), y: Number(cursor[2]), height: Number(cursor[3]) };
		return null;
	}
}
