/**
 * Subordinate id ranges as /etc/subuid and /etc/subgid list them (`user:start:count`). The parser
 * takes text, so it is tested without a host.
 */

export interface IdRange {
	user: string;
	start: number;
	count: number;
}

/** Parses /etc/subuid or /etc/subgid text; other lines (comments, junk) are ignored. */
export function parseIdRanges(text: string): IdRange[] {
	return text
		.split('\n')
		.map((line) => /^([^:#\s]+):(\d+):(\d+)\s*$/.exec(line.trim()))
		.filter((match) => match !== null)
		.map((match) => ({ user: match[1]!, start: Number(match[2]), count: Number(match[3]) }));
}
