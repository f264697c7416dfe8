import { describe, expect, it } from 'vitest';
import { progressView, rosterView, transcriptEntryOf, withLabs } from '../../../server/class/class-views.ts';
import type { Student } from '../../../server/class/roster.ts';
import type { Reader } from '../../../server/readers.ts';
import type { Terminal } from '../../../server/terminal/terminal.ts';

const ada: Student = { id: 's00000000000a', name: 'Ada', joinedAt: Date.UTC(2026, 0, 5, 9), lastRun: { block: 'intro:1', exit: 0, at: Date.UTC(2026, 0, 5, 9, 10) } };
const bob: Student = { id: 's00000000000b', name: 'Bob', joinedAt: Date.UTC(2026, 0, 5, 9, 5), lastRun: null };
const roster = { size: 2, seats: 30, list: () => [ada, bob] };
const adaReader = {
	lastActivity: Date.UTC(2026, 0, 5, 9, 20),
	page: '/chapters/intro/',
	sockets: 1,
	terminals: new Map([['main', { name: 'main', busy: true } as Terminal]]),
} as unknown as Reader;
const readers = { peekStudent: (id: string) => (id === ada.id ? adaReader : undefined) };

describe('rosterView', () => {
	it('shows who joined, where they are, their terminals and their last activity', () => {
		const view = rosterView({ roster, readers, hostOf: (id) => (id === ada.id ? 'lab-host-1' : null) });
		expect(view.seats).toEqual({ taken: 2, total: 30 });
		expect(view.students[0]).toEqual({
			id: ada.id,
			name: 'Ada',
			joinedAt: '2026-01-05T09:00:00.000Z',
			lastActivity: '2026-01-05T09:20:00.000Z',
			lastRun: { block: 'intro:1', exit: 0, at: '2026-01-05T09:10:00.000Z' },
			labHost: 'lab-host-1',
			page: '/chapters/intro/',
			connected: true,
			terminals: [{ name: 'main', busy: true }],
		});
	});

	it('counts a student never connected as active since they joined, with no terminals', () => {
		expect(rosterView({ roster, readers }).students[1]).toMatchObject({ lastActivity: '2026-01-05T09:05:00.000Z', labHost: null, page: null, connected: false, terminals: [] });
	});
});

describe('withLabs', () => {
	it('adds each student’s lab, and none for a lab that cannot be read', async () => {
		const view = rosterView({ roster, readers });
		const lab = { name: 'podlab-s00000000000a', state: 'running' } as never;
		const withLab = await withLabs(view, async (id) => {
			if (id === bob.id) throw new Error('cgroup gone');
			return lab;
		});
		expect(withLab.students.map((student) => student.lab)).toEqual([lab, null]);
	});
});

describe('progressView', () => {
	it('lists every student with each block’s latest exit, students with no runs included', () => {
		const runLog = { progress: () => new Map([[ada.id, new Map([['intro:1', { exit: 2, at: Date.UTC(2026, 0, 5, 9, 30) }]])]]) };
		expect(progressView(roster, runLog)).toEqual({
			students: [
				{ id: ada.id, name: 'Ada', blocks: { 'intro:1': { exit: 2, at: '2026-01-05T09:30:00.000Z' } } },
				{ id: bob.id, name: 'Bob', blocks: {} },
			],
		});
	});
});

describe('transcriptEntryOf', () => {
	it('sends a run’s time as ISO', () => {
		const run = { student: ada.id, block: null, command: 'ls', page: null, term: 'main', exit: 0, at: Date.UTC(2026, 0, 5, 10) };
		expect(transcriptEntryOf(run)).toEqual({ ...run, at: '2026-01-05T10:00:00.000Z' });
	});
});
