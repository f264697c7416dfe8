/**
 * Terminal output as plain text, for doc-test assertions and recorded transcripts, and the one escape
 * stripper of the tests' protocol client (tests/helpers/client.ts) and the bench: escape sequences
 * and carriage returns removed, lines as a reader would read them.
 */

/** OSC (… BEL or ESC \), CSI, and two-byte escapes. */
const ESCAPES = /\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]/g;

export function plainText(raw: string): string {
	return (
		raw
			.replace(ESCAPES, '')
			.replace(/\r+\n/g, '\n')
			// A carriage return within a line: what follows it overwrites the line. Line by line, not with
			// /[^\n]*\r/: that regex rescans a long line from every position (300 KB of output took minutes).
			.split('\n')
			.map((line) => line.slice(line.lastIndexOf('\r') + 1))
			.join('\n')
			.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '')
	);
}

/** The part of a run's raw output that the command itself printed: after OSC 133 C, before D. */
export function commandOutput(raw: string): string {
	const start = raw.search(/\x1b\]133;C;/);
	if (start < 0) return '';
	const afterStart = raw.indexOf('\x07', start) + 1;
	const end = raw.lastIndexOf('\x1b]133;D;');
	return raw.slice(afterStart, end > afterStart ? end : undefined);
}
