/**
 * The podlab wire protocol, shared by the gateway and the browser client.
 *
 * - Binary frames carry terminal bytes: client → server is input, server → client is output.
 * - Text frames carry JSON control messages with a `t` field, validated here with zod.
 *
 * This module must stay free of Node imports: the browser bundle imports it as is. It uses
 * `zod/mini` (functions, not methods, so a bundle keeps only what it calls: about a third of full
 * zod in the terminal's first download); the same schemas validate in the gateway, where zod's
 * English messages are loaded (server/ imports full zod, which sets them).
 */
import * as z from 'zod/mini';

/** Terminal names: short, lowercase, safe in URLs, tmux session names and cgroup paths. */
export const terminalName = z
	.string()
	.check(z.regex(/^[a-z][a-z0-9-]{0,23}$/, 'a terminal name is 1-24 of a-z, 0-9 and "-", starting with a letter'));

/** The terminal every reader gets first. */
export const DEFAULT_TERMINAL = 'main';

/** Signals a client may ask for; all go to the terminal's foreground job, never to the gateway. */
export const signalName = z.enum(['SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGKILL', 'SIGTSTP', 'SIGCONT']);

/** Largest byte offset we accept from a client (2^53 - 1 keeps it exact in JSON). */
const offset = z.int().check(z.minimum(0), z.maximum(Number.MAX_SAFE_INTEGER));

/** Terminal sizes are clamped by the gateway; the schema only rejects nonsense. */
const dimension = z.int().check(z.minimum(1), z.maximum(100_000));

export const clientMessage = z.discriminatedUnion('t', [
	/** Attach this socket to a terminal (created on first attach). `since`: output offset already rendered. */
	z.strictObject({
		t: z.literal('attach'),
		term: terminalName,
		since: z._default(offset, 0),
		/** Replay at most this many bytes of earlier output (a thumbnail needs only the screen, not 2 MiB of history). */
		tail: z.optional(offset),
		/** Instructor sockets only: watch this student's terminal (read-only unless taken over). */
		student: z.optional(z.string().check(z.regex(/^s[0-9a-f]{12}$/, 'a student id'))),
		/**
		 * The page the reader has open (a path on the site), shown on the instructor's roster. Only a
		 * hint: one that is not a plain path is dropped, never a reason to refuse the terminal.
		 */
		page: z.catch(z.optional(z.string().check(z.maxLength(300), z.regex(/^\/[\w\-./~%]*$/))), undefined),
	}),
	z.strictObject({ t: z.literal('resize'), cols: dimension, rows: dimension }),
	/** Type a block's code into the shell. `interrupt`: send Ctrl-C first if the terminal is busy. */
	z.strictObject({
		t: z.literal('run'),
		code: z.string().check(z.minLength(1), z.maxLength(60_000)),
		block: z.string().check(z.minLength(1), z.maxLength(200)),
		interrupt: z.optional(z.boolean()),
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
	 * `ackBytes`: acknowledge output once this many rendered bytes are waiting, not sooner (at most
	 * the gateway's low watermark, so no remainder ever holds a paused terminal back; see
	 * src/terminal/ack-coalescer.ts).
	 */
	z.strictObject({
		t: z.literal('ready'),
		term: terminalName,
		offset,
		lost: offset,
		created: z.boolean(),
		ackBytes: z.int().check(z.minimum(1), z.maximum(Number.MAX_SAFE_INTEGER)),
	}),
	z.strictObject({ t: z.literal('status'), busy: z.boolean() }),
	z.strictObject({ t: z.literal('done'), block: z.string(), exit: z.int() }),
	z.strictObject({ t: z.literal('exit'), code: z.int() }),
	z.strictObject({ t: z.literal('error'), code: z.string(), message: z.string() }),
	/**
	 * Class mode: the reader's terminals will be ended at `at` (epoch ms) for `reason`; for "idle",
	 * any input or an `extend` moves it back.
	 */
	z.strictObject({ t: z.literal('expiry'), reason: z.enum(['idle', 'deadline']), at: z.int() }),
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
	mode: z.optional(z.enum(['local', 'class'])),
	/** Class mode: who joined in this browser. */
	student: z.nullish(z.looseObject({ id: z.string(), name: z.string() })),
	terminals: z.array(z.looseObject({ name: terminalName, busy: z.boolean() })),
});

/**
 * `GET /api/results`: the reader's last result of each block they ran (block id → exit status and
 * when), so a page can show its ✓/✗ again after a reload or on a later visit. A request without a
 * reader cookie gets an empty map; it never issues one.
 */
export const blockResultsResponse = z.looseObject({
	blocks: z.record(z.string(), z.looseObject({ exit: z.int(), at: z.iso.datetime() })),
});

/**
 * `GET /api/lab`: where shells run (`backend`), which lab they see (`profile`; null when the backend
 * cannot tell, the full detection in `lab`), the limits that matter to a reader.
 */
export const labResponse = z.looseObject({
	backend: z.string(),
	/** Shells survive a restart of the gateway. */
	keepsShells: z.optional(z.boolean()),
	/** The reader's lab can be replaced with a fresh one (`POST /api/lab/reset`): backends with a lab of one's own. */
	resettable: z.optional(z.boolean()),
	mode: z.optional(z.enum(['local', 'class'])),
	profile: z.nullish(z.enum(['podman', 'kubernetes', 'none'])),
	terminals: z.optional(z.looseObject({ default: terminalName, maxPerReader: z.int() })),
});

/** `POST /api/lab/reset` and the instructor's resets: per reader, the new lab and how long the reset took. */
export const labResetResult = z.looseObject({
	/** The student id (instructor routes), or null for the reader's own reset. */
	student: z.nullable(z.string()),
	lab: z.string(),
	terminalsEnded: z.int(),
	ms: z.number(),
});

export type LabResetResult = z.infer<typeof labResetResult>;

export type SessionResponse = z.infer<typeof sessionResponse>;
export type LabResponse = z.infer<typeof labResponse>;
export type BlockResultsResponse = z.infer<typeof blockResultsResponse>;

export type ClientMessage = z.infer<typeof clientMessage>;
export type ServerMessage = z.infer<typeof serverMessage>;
export type SignalName = z.infer<typeof signalName>;

/**
 * What a client does after an error: `retry` (reconnect, with backoff), `stop` (reconnecting
 * cannot help: the reader or the client must change something), `ended` (the terminal is gone:
 * offer a new shell), `stay` (the socket stays open; only this request was refused).
 */
export type ErrorAfter = 'retry' | 'stop' | 'ended' | 'stay';

/**
 * Every error a client can receive: stable code, HTTP status (a refused upgrade or API call),
 * WebSocket close code (null: the socket stays open), what the client does next, and the sentence
 * for the reader. The same table is in docs/protocol.md (a test keeps them in step).
 */
export const ERRORS = {
	LAB_ERR_ORIGIN: { http: 403, close: null, after: 'stop', text: 'This page is not allowed to open a terminal here (Origin not allowed).' },
	LAB_ERR_HOST: { http: 403, close: null, after: 'stop', text: 'This address is not allowed to open a terminal here (Host not allowed).' },
	LAB_ERR_NO_READER: { http: 401, close: null, after: 'stop', text: 'No reader session: load the page again to get one.' },
	LAB_ERR_LAB_FULL: { http: 503, close: null, after: 'retry', text: 'The lab has no room for another reader right now.' },
	LAB_ERR_SOCKET_LIMIT: { http: 429, close: null, after: 'stop', text: 'Too many open connections from this reader: close some tabs.' },
	LAB_ERR_ADDRESS_LIMIT: { http: 429, close: null, after: 'retry', text: 'Too many open connections from this address: try again in a moment.' },
	LAB_ERR_NOT_FOUND: { http: 404, close: null, after: 'stop', text: 'There is nothing at this address.' },
	LAB_ERR_JOIN_REQUIRED: { http: 401, close: null, after: 'stop', text: 'Join the class first: open /join/ and enter the code your trainer gave you.' },
	LAB_ERR_JOIN_CODE: { http: 403, close: null, after: 'stop', text: 'That join code is not right: check it with your trainer.' },
	LAB_ERR_CLASS_FULL: { http: 409, close: null, after: 'stop', text: 'The class is full: ask your trainer to free a seat.' },
	LAB_ERR_JOIN_RATE: { http: 429, close: null, after: 'stop', text: 'Too many attempts from this address: try again in a minute.' },
	LAB_ERR_INSTRUCTOR_AUTH: { http: 401, close: null, after: 'stop', text: 'This needs the instructor token in an Authorization: Bearer header.' },
	LAB_ERR_BAD_REQUEST: { http: 400, close: null, after: 'stop', text: 'The request could not be read.' },
	LAB_ERR_BAD_MESSAGE: { http: null, close: 1007, after: 'stop', text: 'The message could not be read.' },
	LAB_ERR_UNKNOWN_TYPE: { http: null, close: 1008, after: 'stop', text: 'The message type is not part of the protocol.' },
	LAB_ERR_NOT_ATTACHED: { http: null, close: 1008, after: 'stop', text: 'Attach to a terminal before sending anything else.' },
	LAB_ERR_ALREADY_ATTACHED: { http: null, close: 1008, after: 'stop', text: 'This socket is already attached to a terminal.' },
	LAB_ERR_FRAME_TOO_LARGE: { http: null, close: 1009, after: 'stop', text: 'The message is larger than the gateway accepts.' },
	LAB_ERR_RATE: { http: null, close: 1008, after: 'retry', text: 'Too many messages: slow down.' },
	LAB_ERR_BAD_ACK: { http: null, close: 1008, after: 'stop', text: 'The ack does not match the output sent: acknowledge only bytes received, and at least one.' },
	LAB_ERR_ATTACH_TIMEOUT: { http: null, close: 4007, after: 'retry', text: 'The socket did not attach to a terminal in time.' },
	LAB_ERR_INPUT_FULL: { http: null, close: null, after: 'stay', text: 'The terminal is not reading its input: this input was dropped. Press Ctrl-C or wait for the program.' },
	LAB_ERR_TERMINAL_LIMIT: { http: null, close: 4001, after: 'stop', text: 'You have as many terminals as allowed: close one first.' },
	LAB_ERR_SPAWN: { http: null, close: 1011, after: 'retry', text: 'The lab could not start a shell.' },
	LAB_ERR_BUSY: { http: null, close: null, after: 'stay', text: 'The terminal is busy: interrupt it first, or run with interrupt.' },
	LAB_ERR_ENDED: { http: null, close: 4000, after: 'ended', text: 'The terminal has ended.' },
	LAB_ERR_IDLE: { http: null, close: 4002, after: 'ended', text: 'Your lab session ended after a long time without activity: start a new shell to go on.' },
	LAB_ERR_CLASS_OVER: { http: null, close: 4003, after: 'ended', text: 'The class is over: its lab sessions have ended.' },
	LAB_ERR_READ_ONLY: { http: null, close: null, after: 'stay', text: 'You are watching this terminal: take over to type into it.' },
	LAB_ERR_TAKEN_OVER: { http: null, close: null, after: 'stay', text: 'Another instructor is typing in this terminal: wait until they give it back.' },
	LAB_ERR_FORBIDDEN: { http: null, close: 1008, after: 'stop', text: 'Only the instructor may watch another student’s terminal.' },
	LAB_ERR_NO_SUCH_TERMINAL: { http: null, close: 4006, after: 'ended', text: 'The student has no terminal by that name (yet).' },
	LAB_ERR_VIEWER_BEHIND: { http: null, close: 1013, after: 'retry', text: 'This view fell too far behind the terminal: reconnect to catch up.' },
	LAB_ERR_POOL_FULL: { http: 503, close: 4004, after: 'retry', text: 'Every lab host is taken: there are more students than lab hosts. Tell your instructor.' },
	LAB_ERR_HOST_UNREACHABLE: { http: null, close: 4005, after: 'retry', text: 'Your lab host does not answer: tell your instructor.' },
	LAB_ERR_HOST_KEY: { http: null, close: 4005, after: 'retry', text: 'Your lab host presented an unknown key, so podlab did not connect: tell your instructor.' },
	LAB_ERR_HOST_AUTH: { http: null, close: 4005, after: 'retry', text: 'Your lab host did not accept podlab’s key: tell your instructor.' },
	LAB_ERR_HOST_SETUP: { http: null, close: 4005, after: 'retry', text: 'Your lab host is missing something podlab needs (tmux 3.3 or later): tell your instructor.' },
	LAB_ERR_SHUTDOWN: { http: null, close: 1001, after: 'retry', text: 'The lab is shutting down.' },
	LAB_ERR_INTERNAL: { http: null, close: 1011, after: 'retry', text: 'The gateway hit an internal error.' },
	LAB_ERR_RESET_UNSUPPORTED: { http: 409, close: null, after: 'stop', text: 'This lab cannot be reset: its backend has no lab of one’s own to replace (only the lxc backend resets labs).' },
	LAB_ERR_STATE_WRITE: { http: 503, close: null, after: 'retry', text: 'The lab could not save this change (its disk may be full): try again in a moment, or tell your trainer.' },
} as const satisfies Record<string, { http: number | null; close: number | null; after: ErrorAfter; text: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** Whether `code` is one of the protocol's error codes (a close reason, an API answer's `code`). */
export function isErrorCode(code: string): code is ErrorCode {
	return Object.hasOwn(ERRORS, code);
}

/**
 * The error a WebSocket close stands for: its reason when that is a code (the gateway always gives
 * one), else the one error with that close code (closes made by the WebSocket layer itself, such as
 * 1009 for an oversize frame, have no reason). Null for closes the table does not explain (1006).
 */
export function errorOfClose(closeCode: number, reason: string): ErrorCode | null {
	if (isErrorCode(reason)) return reason;
	const matches = (Object.keys(ERRORS) as ErrorCode[]).filter((code) => ERRORS[code].close === closeCode);
	return matches.length === 1 ? matches[0]! : null;
}

/** The client messages' types; made on first use, so a bundle that never parses one leaves `clientMessage` out. */
let clientMessageTypes: ReadonlySet<string> | null = null;

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
	clientMessageTypes ??= new Set(clientMessage.def.options.map((option) => option.def.shape.t.def.values[0] as string));
	if (!clientMessageTypes.has(value.t)) {
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
}

export function encodeServerMessage(message: ServerMessage): string {
	return JSON.stringify(message);
}

export function encodeClientMessage(message: ClientMessage): string {
	return JSON.stringify(message);
}
