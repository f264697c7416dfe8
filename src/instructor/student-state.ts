/**
 * How the roster words a student: active, idle for N minutes, or offline; and which page they are on.
 * No DOM and no xterm here (unit-tested under Node).
 */
import type { RosterStudent } from '../class-protocol.ts';
import type { Chapter } from './api.ts';

/** Without a keystroke or run for this long, a connected student counts as idle. */
export const IDLE_AFTER_MS = 3 * 60_000;

export type StudentState = { kind: 'active' | 'idle' | 'offline'; label: string };

export function studentState(student: Pick<RosterStudent, 'connected' | 'lastActivity'>, now = Date.now()): StudentState {
	if (!student.connected) return { kind: 'offline', label: 'offline' };
	const idleMs = now - Date.parse(student.lastActivity);
	if (idleMs < IDLE_AFTER_MS) return { kind: 'active', label: 'active' };
	return { kind: 'idle', label: `idle ${Math.floor(idleMs / 60_000)} min` };
}

/** A site path as the chapter's title, when it is one. */
export function pageTitle(path: string | null | undefined, chapters: Chapter[]): string {
	if (!path) return '—';
	return chapters.find((chapter) => chapter.href === path || chapter.href === `${path}/`)?.title ?? path;
}
