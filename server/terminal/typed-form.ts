/**
 * What the pty receives when a block is run: the keys that type it at the shell's prompt.
 *
 * One line is typed and entered. Several lines normally go in as one bracketed paste, so heredocs,
 * tabs and continuation lines arrive intact and run as one command line, shown as the reader would
 * see their own paste. But readline draws a line buffer that is taller than the screen wrongly: past
 * the last row it stops moving down and writes every further line over the same row (bash 5.2,
 * readline 8.2: a 30-line heredoc in a 15-row terminal ends in one row reading
 * `EOF   restartPolicy: Alwaysame: …`). The command runs fine; only what the reader sees is wrong.
 *
 * So a block that does not fit the terminal goes in line by line instead, inside `{` … `}`: each line
 * is its own readline call (a bracketed paste of that line, so tabs are not completions), shown after
 * the shell's continuation prompt, and bash still reads the whole group before running any of it —
 * one command line, one exit status, as with the paste.
 */

/** The terminal's size in cells, as the reader's browser last set it. */
export interface ScreenSize {
	cols: number;
	rows: number;
}

/**
 * A key sequence no keyboard sends, bound to readline's kill-whole-line by podlab.bashrc (unlike
 * Ctrl-U, it does not ring the bell on an empty line). Sent first, it clears anything the reader
 * had half-typed at the prompt.
 */
export const CLEAR_LINE_KEY = '\x1b[9999~';

const PASTE_START = '\x1b[200~';
const PASTE_END = '\x1b[201~';

/**
 * Room kept for the prompt in front of the first line: the gateway does not know the reader's
 * prompt, and `user@host:/var/lib/podlab/work# ` is about this long.
 */
const PROMPT_ALLOWANCE = 40;

/** Characters that take two cells (CJK, Hangul, full-width forms, most emoji), as terminals draw them. */
const WIDE = /[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]/u;

/** How many cells a line takes (tabs to the next multiple of 8). */
function cellWidth(line: string): number {
	let width = 0;
	for (const char of line) {
		if (char === '\t') width += 8 - (width % 8);
		else width += WIDE.test(char) ? 2 : 1;
	}
	return width;
}

/** Rows the lines take once wrapped at `cols` (the first one after the prompt), plus the cursor's. */
function rowsNeeded(lines: readonly string[], cols: number): number {
	return lines.reduce((rows, line, index) => {
		const width = cellWidth(line) + (index === 0 ? Math.min(PROMPT_ALLOWANCE, cols - 1) : 0);
		return rows + Math.max(1, Math.ceil((width + 1) / cols));
	}, 0);
}

/**
 * The keys for a block, for a terminal of `screen` size.
 *
 * @param code the block's text; a trailing newline is dropped, CRLF read as LF
 * @param screen the terminal's size; 80×24 when not known
 */
export function typedForm(code: string, screen: ScreenSize = { cols: 80, rows: 24 }): string {
	// A paste-end sequence inside the block would end the paste early and run the rest line by line.
	const text = code.replace(/\r\n?/g, '\n').replace(/\n+$/, '').replaceAll(PASTE_END, '');
	if (!text.includes('\n')) return `${CLEAR_LINE_KEY}${text}\r`;
	const lines = text.split('\n');
	// One row stays free: the line after the command, where the cursor goes when it is entered.
	if (rowsNeeded(lines, Math.max(1, screen.cols)) < screen.rows) return `${CLEAR_LINE_KEY}${PASTE_START}${text}${PASTE_END}\r`;
	return `${CLEAR_LINE_KEY}{\r${lines.map((line) => `${PASTE_START}${line}${PASTE_END}\r`).join('')}}\r`;
}
