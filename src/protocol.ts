/**
 * The podlab wire protocol, shared by the gateway and the browser client.
 *
 * - Binary frames carry terminal bytes: client → server is input, server → client is output.
 * - Text frames carry JSON control messages with a `t` field, validated here with zod.
 *
 * This module must stay free of Node imports: the browser bundle imports it as is.
 */
import { z } from 'zod';

/** Terminal names: short, lowercase, safe in URLs, tmux session names and cgroup paths. */
export const terminalName = z
	.string()
	.regex(/^[a-z][a-z0-9-]{0,23}$/, 'a terminal name is 1-24 of a-z, 0-9 and "-", starting with a letter');

/** The terminal every reader gets first. */
export const DEFAULT_TERMINAL = 'main';

/** Signals a client may ask for; all go to the terminal's foreground job, never to the gateway. */
export const signalName = z.enum(['SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGKILL', 'SIGTSTP', 'SIGCONT']);

/** Largest byte offset we accept from a client (2^53 - 1 keeps it exact in JSON). */
const offset = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Terminal sizes are clamped by the gateway; the schema only rejects nonsense. */
const dimension = z.number().int().min(1).max(100_000);

export const clientMessage = z.discriminatedUnion('t', [
	/** Attach this socket to a terminal (created on first attach). `since`: output offset already rendered. */
	z.strictObject({
		t: z.literal('attach'),
		term: terminalName,
		since: offset.default(0),
		/** Replay at most this many bytes of earlier output (a thumbnail needs only the screen, not 2 MiB of history). */
		tail: offset.optional(),
		/** Instructor sockets only: watch this student's terminal (read-only unless taken over). */
		student: z.string().regex(/^s[0-9a-f]{12}$/, 'a student id').optional(),
		/**
		 * The page the reader has open (a path on the site), shown on the instructor's roster. Only a
		 * hint: one that is not a plain path is dropped, never a reason to refuse the terminal.
		 */
		page: z
			.string()
			.max(300)
			.regex(/^\/[\w\-./~%]*$/)
			.optional()
			.catch(undefined),
	}),
	z.strictObject({ t: z.literal('resize'), cols: dimension, rows: dimension }),
	/** Type a block's code into the shell. `interrupt`: send Ctrl-C first if the terminal is busy. */
	z.strictObject({
		t: z.literal('run'),
		code: z.string().min(1).max(60_000),
		block: z.string().min(1).max(200),
		interrupt: z.boolean().optional(),
	}),
	/** Bytes of output rendered since the previous ack (flow control). */
	z.strictObject({ t: z.literal('ack'), bytes: offset }),
	z.strictObject({ t: z.literal('signal'), name: signalName }),
	/** "I am still here": resets the idle limit after an `expiry` warning. */
	z.strictObject({ t: z.literal('extend') }),
	/** Instructor viewers only: start or stop typing into the student's terminal. */
	z.strictObject({ t: z.literal('takeover'), on: z.boolean() }),
]);

export const serverMessage = z.discriminatedUnion('t', [
	/**
	 * The socket is attached. Output bytes that follow start at `offset`.
	 * `offset > since`: `lost` bytes fell out of the scrollback. `offset < since`: this is a new shell.
	 */
	z.strictObject({ t: z.literal('ready'), term: terminalName, offset, lost: offset, created: z.boolean() }),
	z.strictObject({ t: z.literal('status'), busy: z.boolean() }),
	z.strictObject({ t: z.literal('done'), block: z.string(), exit: z.number().int() }),
	z.strictObject({ t: z.literal('exit'), code: z.number().int() }),
	z.strictObject({ t: z.literal('error'), code: z.string(), message: z.string() }),
	/**
	 * Class mode: the reader's terminals will be ended at `at` (epoch ms) for `reason`; for "idle",
	 * any input or an `extend` moves it back.
	 */
	z.strictObject({ t: z.literal('expiry'), reason: z.enum(['idle', 'deadline']), at: z.number().int() }),
	/** The instructor started (`on`) or stopped typing into this terminal. */
	z.strictObject({ t: z.literal('takeover'), on: z.boolean() }),
	/** A message from the instructor to the whole class. */
	z.strictObject({ t: z.literal('notice'), text: z.string() }),
	/** Viewers only: the size of the watched terminal, after `ready` and whenever its reader resizes it. */
	z.strictObject({ t: z.literal('size'), cols: dimension, rows: dimension }),
]);

/**
 * `GET /api/session`: the reader's live terminals (the cookie comes with it). Loose objects: a
 * newer gateway may add fields, and an older client must still read the answer.
 */
export const sessionResponse = z.looseObject({
	/** "class": students join at /join/ first. */
	mode: z.enum(['local', 'class']).optional(),
	/** Class mode: who joined in this browser. */
	student: z.looseObject({ id: z.string(), name: z.string() }).nullish(),
	terminals: z.array(z.looseObject({ name: terminalName, busy: z.boolean() })),
});

/**
 * `GET /api/results`: the reader's last result of each block they ran (block id → exit status and
 * when), so a page can show its ✓/✗ again after a reload or on a later visit. A request without a
 * reader cookie gets an empty map; it never issues one.
 */
export const blockResultsResponse = z.looseObject({
	blocks: z.record(z.string(), z.looseObject({ exit: z.number().int(), at: z.iso.datetime() })),
});

/** `GET /api/lab`: where shells run (`backend`), which lab it is (`profile`), the limits that matter to a reader. */
export const labResponse = z.looseObject({
	backend: z.string(),
	mode: z.enum(['local', 'class']).optional(),
	profile: z.enum(['podman', 'kubernetes', 'none']).nullish(),
	ready: z.boolean().optional(),
	summary: z.string().optional(),
	terminals: z.looseObject({ default: terminalName, maxPerReader: z.number().int() }).optional(),
});

/** The instructor API (class mode): a student as the roster shows them (`GET /api/instructor/students`, the feed's `roster`). */
export const rosterStudent = z.looseObject({
	id: z.string(),
	name: z.string(),
	joinedAt: z.iso.datetime(),
	/** The last keystroke or run. */
	lastActivity: z.iso.datetime(),
	lastRun: z.looseObject({ block: z.string(), exit: z.number().int(), at: z.iso.datetime() }).nullable(),
	labHost: z.string().nullable(),
	/** The site path the student's terminal panel was last open on. */
	page: z.string().nullable(),
	connected: z.boolean(),
	terminals: z.array(z.looseObject({ name: terminalName, busy: z.boolean() })),
});

export const rosterResponse = z.looseObject({
	seats: z.looseObject({ taken: z.number().int(), total: z.number().int() }),
	students: z.array(rosterStudent),
});

/** `GET /api/instructor/progress`, the feed's `progress`: per student, each block's latest run. */
export const progressResponse = z.looseObject({
	students: z.array(
		z.looseObject({
			id: z.string(),
			name: z.string(),
			blocks: z.record(z.string(), z.looseObject({ exit: z.number().int(), at: z.iso.datetime() })),
		}),
	),
});

/** One command a student ran — a block (`block` set) or a line typed at the prompt (`block` null): transcripts and the feed's `run`. */
export const transcriptEntry = z.looseObject({
	student: z.string(),
	block: z.string().nullable(),
	command: z.string(),
	term: z.string(),
	exit: z.number().int(),
	at: z.iso.datetime(),
	page: z.string().nullable(),
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

export type SessionResponse = z.infer<typeof sessionResponse>;
export type LabResponse = z.infer<typeof labResponse>;
export type BlockResultsResponse = z.infer<typeof blockResultsResponse>;

export type ClientMessage = z.infer<typeof clientMessage>;
export type ServerMessage = z.infer<typeof serverMessage>;
export type SignalName = z.infer<typeof signalName>;

/**
 * Every error a client can receive: stable code, WebSocket close code (or HTTP status for a refused
 * upgrade), and whether the socket is closed. The same table is rendered in docs/errors.md.
 */
export const ERRORS = {
	LAB_ERR_ORIGIN: { http: 403, close: null, text: 'This page is not allowed to open a terminal here (Origin not allowed).' },
	LAB_ERR_HOST: { http: 403, close: null, text: 'This address is not allowed to open a terminal here (Host not allowed).' },
	LAB_ERR_NO_READER: { http: 401, close: null, text: 'No reader session: load the page again to get one.' },
	LAB_ERR_LAB_FULL: { http: 503, close: null, text: 'The lab has no room for another reader right now.' },
	LAB_ERR_SOCKET_LIMIT: { http: 429, close: null, text: 'Too many open connections from this reader: close some tabs.' },
	LAB_ERR_NOT_FOUND: { http: 404, close: null, text: 'There is nothing at this address.' },
	LAB_ERR_JOIN_REQUIRED: { http: 401, close: null, text: 'Join the class first: open /join/ and enter the code your trainer gave you.' },
	LAB_ERR_JOIN_CODE: { http: 403, close: null, text: 'That join code is not right: check it with your trainer.' },
	LAB_ERR_CLASS_FULL: { http: 409, close: null, text: 'The class is full: ask your trainer to free a seat.' },
	LAB_ERR_JOIN_RATE: { http: 429, close: null, text: 'Too many attempts from this address: try again in a minute.' },
	LAB_ERR_INSTRUCTOR_AUTH: { http: 401, close: null, text: 'This needs the instructor token in an Authorization: Bearer header.' },
	LAB_ERR_BAD_REQUEST: { http: 400, close: null, text: 'The request could not be read.' },
	LAB_ERR_BAD_MESSAGE: { http: null, close: 1007, text: 'The message could not be read.' },
	LAB_ERR_UNKNOWN_TYPE: { http: null, close: 1008, text: 'The message type is not part of the protocol.' },
	LAB_ERR_NOT_ATTACHED: { http: null, close: 1008, text: 'Attach to a terminal before sending anything else.' },
	LAB_ERR_ALREADY_ATTACHED: { http: null, close: 1008, text: 'This socket is already attached to a terminal.' },
	LAB_ERR_FRAME_TOO_LARGE: { http: null, close: 1009, text: 'The message is larger than the gateway accepts.' },
	LAB_ERR_RATE: { http: null, close: 1008, text: 'Too many messages: slow down.' },
	LAB_ERR_TERMINAL_LIMIT: { http: null, close: 4001, text: 'You have as many terminals as allowed: close one first.' },
	LAB_ERR_SPAWN: { http: null, close: 1011, text: 'The lab could not start a shell.' },
	LAB_ERR_BUSY: { http: null, close: null, text: 'The terminal is busy: interrupt it first, or run with interrupt.' },
	LAB_ERR_ENDED: { http: null, close: 4000, text: 'The terminal has ended.' },
	LAB_ERR_IDLE: { http: null, close: 4002, text: 'Your lab session ended after a long time without activity: start a new shell to go on.' },
	LAB_ERR_CLASS_OVER: { http: null, close: 4003, text: 'The class is over: its lab sessions have ended.' },
	LAB_ERR_READ_ONLY: { http: null, close: null, text: 'You are watching this terminal: take over to type into it.' },
	LAB_ERR_TAKEN_OVER: { http: null, close: null, text: 'Another instructor is typing in this terminal: wait until they give it back.' },
	LAB_ERR_FORBIDDEN: { http: null, close: 1008, text: 'Only the instructor may watch another student’s terminal.' },
	LAB_ERR_NO_SUCH_TERMINAL: { http: null, close: 4006, text: 'The student has no terminal by that name (yet).' },
	LAB_ERR_VIEWER_BEHIND: { http: null, close: 1013, text: 'This view fell too far behind the terminal: reconnect to catch up.' },
	LAB_ERR_POOL_FULL: { http: 503, close: 4004, text: 'Every lab host is taken: there are more students than lab hosts. Tell your instructor.' },
	LAB_ERR_HOST_UNREACHABLE: { http: null, close: 4005, text: 'Your lab host does not answer: tell your instructor.' },
	LAB_ERR_HOST_KEY: { http: null, close: 4005, text: 'Your lab host presented an unknown key, so podlab did not connect: tell your instructor.' },
	LAB_ERR_HOST_AUTH: { http: null, close: 4005, text: 'Your lab host did not accept podlab’s key: tell your instructor.' },
	LAB_ERR_HOST_SETUP: { http: null, close: 4005, text: 'Your lab host is missing something podlab needs (tmux 3.3 or later): tell your instructor.' },
	LAB_ERR_SHUTDOWN: { http: null, close: 1001, text: 'The lab is shutting down.' },
	LAB_ERR_INTERNAL: { http: null, close: 1011, text: 'The gateway hit an internal error.' },
} as const satisfies Record<string, { http: number | null; close: number | null; text: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** Parse one text frame. Throws a {@link LabError} whose code says what was wrong. */
export function parseClientMessage(text: string): ClientMessage {
	let value: unknown;
	try {
		value = JSON.parse(text);
	} catch {
		throw new LabError('LAB_ERR_BAD_MESSAGE', 'The message is not valid JSON.');
	}
	if (typeof value !== 'object' || value === null || !('t' in value) || typeof value.t !== 'string') {
		throw new LabError('LAB_ERR_BAD_MESSAGE', 'The message needs a string field "t".');
	}
	if (!clientMessage.options.some((option) => option.shape.t.value === value.t)) {
		throw new LabError('LAB_ERR_UNKNOWN_TYPE', `Unknown message type "${value.t.slice(0, 32)}".`);
	}
	const parsed = clientMessage.safeParse(value);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		const where = issue?.path.length ? ` at "${issue.path.join('.')}"` : '';
		throw new LabError('LAB_ERR_BAD_MESSAGE', `Invalid "${value.t}" message${where}: ${issue?.message}.`);
	}
	return parsed.data;
}

/**
 * An error a client can be told about: a stable code from {@link ERRORS}, a plain-language message,
 * and the HTTP status or WebSocket close code that goes with it.
 */
export class LabError extends Error {
	readonly code: ErrorCode;

	constructor(code: ErrorCode, message: string = ERRORS[code].text, options?: ErrorOptions) {
		super(message, options);
		this.name = 'LabError';
		this.code = code;
	}

	get closeCode(): number {
		return ERRORS[this.code].close ?? 1011;
	}

	get httpStatus(): number {
		return ERRORS[this.code].http ?? 500;
	}
}

export function encodeServerMessage(message: ServerMessage): string {
	return JSON.stringify(message);
}

export function encodeClientMessage(message: ClientMessage): string {
	return JSON.stringify(message);
}
