/**
 * The instructor API's answers (class mode: `GET /api/instructor/students`, the live feed's
 * payloads, transcripts), shared by the gateway and the instructor page. Apart from src/protocol.ts:
 * they are the instructor's, not the terminal's, and a module's zod schemas are made when it is
 * evaluated, so a bundle keeps all of a module it imports.
 */
import * as z from 'zod/mini';
import { terminalName } from './protocol.ts';

/** The instructor API (class mode): a student as the roster shows them (`GET /api/instructor/students`, the feed's `roster`). */
export const rosterStudent = z.looseObject({
	id: z.string(),
	name: z.string(),
	joinedAt: z.iso.datetime(),
	/** The last keystroke or run. */
	lastActivity: z.iso.datetime(),
	lastRun: z.nullable(z.looseObject({ block: z.string(), exit: z.int(), at: z.iso.datetime() })),
	labHost: z.nullable(z.string()),
	/** The student's lab of their own (backends with one, e.g. incus): name, state, memory in use; null when they have none yet. Absent on other backends. */
	lab: z.optional(
		z.nullable(
			z.looseObject({
				name: z.string(),
				state: z.enum(['running', 'stopped']),
				memoryBytes: z.nullable(z.int()),
			}),
		),
	),
	/** The site path the student's terminal panel was last open on. */
	page: z.nullable(z.string()),
	connected: z.boolean(),
	terminals: z.array(z.looseObject({ name: terminalName, busy: z.boolean() })),
});

export const rosterResponse = z.looseObject({
	seats: z.looseObject({ taken: z.int(), total: z.int() }),
	students: z.array(rosterStudent),
});

/** `GET /api/instructor/progress`, the feed's `progress`: per student, each block's latest run. */
export const progressResponse = z.looseObject({
	students: z.array(
		z.looseObject({
			id: z.string(),
			name: z.string(),
			blocks: z.record(z.string(), z.looseObject({ exit: z.int(), at: z.iso.datetime() })),
		}),
	),
});

/** One command a student ran — a block (`block` set) or a line typed at the prompt (`block` null): transcripts and the feed's `run`. */
export const transcriptEntry = z.looseObject({
	student: z.string(),
	block: z.nullable(z.string()),
	command: z.string(),
	term: z.string(),
	exit: z.int(),
	at: z.iso.datetime(),
	page: z.nullable(z.string()),
});

export const transcriptResponse = z.looseObject({
	student: z.looseObject({ id: z.string(), name: z.string() }),
	runs: z.array(transcriptEntry),
});

export type RosterStudent = z.infer<typeof rosterStudent>;
export type RosterResponse = z.infer<typeof rosterResponse>;
export type ProgressResponse = z.infer<typeof progressResponse>;
export type TranscriptEntry = z.infer<typeof transcriptEntry>;
export type TranscriptResponse = z.infer<typeof transcriptResponse>;
