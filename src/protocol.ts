/**
 * The podlab wire protocol: the gateway validates with it, the instructor page imports it, and the
 * reader's terminal checks the gateway's messages with validators compiled from it.
 *
 * - Binary frames carry terminal bytes: client → server is input, server → client is output.
 * - Text frames carry JSON control messages with a `t` field, validated here with zod.
 *
 * This module must stay free of Node imports: the instructor page imports it as is. It uses
 * `zod/mini` (functions, not methods, so a bundle keeps only what it calls); the same schemas
 * validate in the gateway, where zod's English messages are loaded (server/ imports full zod, which
 * sets them). A reader's terminal does not load zod at all: it checks what the gateway sends with
 * validators compiled from these schemas at build time (src/build/protocol-validators.ts), and takes
 * the protocol's plain values from src/protocol-values.ts.
 */
import * as z from 'zod/mini';
import { LAB_PROFILES, LabError } from './protocol-values.ts';

export * from './protocol-values.ts';

/** Terminal names: short, lowercase, safe in URLs, tmux session names and cgroup paths. */
export const terminalName = z
	.string()
	.check(z.regex(/^[a-z][a-z0-9-]{0,23}$/, 'a terminal name is 1-24 of a-z, 0-9 and "-", starting with a letter'));

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
	 * src/terminal/connection/ack-coalescer.ts).
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
	/** `block`: the run it refuses (LAB_ERR_BUSY), which may not be the latest one sent. */
	z.strictObject({ t: z.literal('error'), code: z.string(), message: z.string(), block: z.optional(z.string()) }),
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
 * `GET /api/lab`'s `setup`: where a `lab:setup` of the gateway's machine stands, while it runs and
 * after. Not in the schema below (which lets unknown fields through): the pages read it field by
 * field (src/terminal/lab/lab-setup.ts), so the checks every page downloads stay small.
 */
export interface LabSetupProgress {
	state: 'running' | 'done' | 'failed';
	step: { number: number; total: number; title: string } | null;
	elapsedMs: number;
	/** About how long is left; null once it is not running. */
	remainingMs: number | null;
}

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
	profile: z.nullish(z.enum([...LAB_PROFILES, 'none'])),
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
