/**
 * The subordinate uid/gid ranges of root in /etc/subuid and /etc/subgid. LXC maps a lab's ids
 * with newuidmap/newgidmap even when root starts it, and those refuse a range that is not
 * delegated to root there. Each lab slot gets its own 65536 ids, so uid 0 of one lab is a
 * different host uid from uid 0 of every other lab. This is the one change lab:setup makes
 * outside podlab's own directories (documented in docs/lxc-labs.md).
 */
import { readFile, writeFile } from 'node:fs/promises';

/** First host uid (and gid) of lab slot 0. */
export const ID_RANGE_START = 1_000_000;
/** Ids per lab: a full 16-bit range, as a Debian system expects (nobody is 65534). */
export const IDS_PER_LAB = 65_536;
/** Lab slots: slot 0 builds the base, the others are labs. */
export const LAB_SLOTS = 64;

export interface IdRange {
	user: string;
	start: number;
	count: number;
}

/** The host uid that is uid 0 in lab slot `slot`. */
export function slotIdStart(slot: number): number {
	if (!Number.isInteger(slot) || slot < 0 || slot >= LAB_SLOTS) throw new Error(`lab slot ${slot} is outside 0..${LAB_SLOTS - 1}`);
	return ID_RANGE_START + slot * IDS_PER_LAB;
}

/** Parses /etc/subuid or /etc/subgid text (`user:start:count` lines; others are ignored). */
export function parseIdRanges(text: string): IdRange[] {
	return text
		.split('\n')
		.map((line) => /^([^:#\s]+):(\d+):(\d+)\s*$/.exec(line.trim()))
		.filter((match) => match !== null)
		.map((match) => ({ user: match[1]!, start: Number(match[2]), count: Number(match[3]) }));
}

/** The range podlab needs delegated to root. */
export function neededRange(): IdRange {
	return { user: 'root', start: ID_RANGE_START, count: LAB_SLOTS * IDS_PER_LAB };
}

/**
 * What to do with one file: nothing (root already has the range), append the line, or stop
 * because another user's range overlaps podlab's (changing theirs is not podlab's call).
 */
export function planIdRanges(text: string): { action: 'none' } | { action: 'append'; line: string } | { action: 'conflict'; with: IdRange } {
	const need = neededRange();
	const end = need.start + need.count;
	const ranges = parseIdRanges(text);
	if (ranges.some((range) => range.user === 'root' && range.start <= need.start && range.start + range.count >= end)) return { action: 'none' };
	const other = ranges.find((range) => range.user !== 'root' && range.start < end && range.start + range.count > need.start);
	if (other) return { action: 'conflict', with: other };
	return { action: 'append', line: `root:${need.start}:${need.count}` };
}

/**
 * Makes sure root has podlab's range in `path`; returns "present" or "added".
 * @throws {Error} when another user's range overlaps.
 */
export async function ensureIdRange(path: string): Promise<'present' | 'added'> {
	const text = await readFile(path, 'utf8').catch(() => '');
	const plan = planIdRanges(text);
	if (plan.action === 'none') return 'present';
	if (plan.action === 'conflict') {
		const { user, start, count } = plan.with;
		throw new Error(`${path} gives ${user} the ids ${start}..${start + count - 1}, which overlap the ones podlab needs for its labs`);
	}
	await writeFile(path, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${plan.line}\n`);
	return 'added';
}
