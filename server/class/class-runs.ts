/**
 * Class mode's record of what students run: each command that finishes in a student's terminal goes
 * to the roster (the instructor's "last block run ✓/✗"), the run log (transcripts, the progress
 * board), the gateway's log (without the command: a typed line may hold a secret) and the
 * instructor page's live feed.
 */
import type { Logger } from 'pino';
import type { ReaderRegistry } from '../readers.ts';
import { transcriptEntryOf } from './class-views.ts';
import type { InstructorEvents } from './instructor-events.ts';
import type { Roster } from './roster.ts';
import type { RunLog } from './run-log.ts';

export interface ClassRunsOptions {
	readers: ReaderRegistry;
	roster: Roster;
	runLog: RunLog;
	events: InstructorEvents;
	logger: Logger;
}

/** Subscribes to the registry's `run` events, and its terminals' coming and going for the live roster. */
export function recordClassRuns({ readers, roster, runLog, events, logger }: ClassRunsOptions): void {
	// A terminal opened or ended shows on the instructor's roster at once, not at the next check.
	readers.on('terminal-opened', () => events.rosterChanged());
	readers.on('terminal-ended', () => events.rosterChanged());
	readers.on('run', (reader, { block, command, term, exit }) => {
		if (reader.student === null || !roster.get(reader.student)) return;
		const student = reader.student;
		// The roster's lastRun is the instructor page's "last block run ✓/✗"; typed commands go to the transcript only.
		if (block !== null) roster.recordRun(student, block, exit);
		const entry = { student, block, command, term, exit, at: Date.now(), page: reader.page };
		runLog.record(entry);
		logger.info({ student, block: block ?? 'typed', term, exit }, 'run');
		events.run(transcriptEntryOf(entry));
	});
}
