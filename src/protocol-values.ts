/**
 * The wire protocol's plain values: the default terminal, every error a client can receive, and the
 * encoders. src/protocol.ts re-exports all of it beside the schemas; the reader's terminal imports
 * this module instead, so that its bundle never reaches zod (it checks the gateway's messages with
 * validators compiled from the schemas: src/build/protocol-validators.ts).
 */
import type { ClientMessage, ServerMessage } from './protocol.ts';
export { LAB_PROFILES, type LabProfile } from './lab-profiles.ts';

/** The terminal every reader gets first. */
export const DEFAULT_TERMINAL = 'main';

/** An exercise's id: its check script's name (`content/exercises/<id>.sh`) and `POST /api/check/<id>`'s. */
export const EXERCISE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

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
	LAB_ERR_LAB_ENGINE: { http: null, close: 4008, after: 'retry', text: 'The lab machines do not answer right now: podlab keeps trying, and this terminal reconnects by itself. Tell your trainer if it lasts.' },
	LAB_ERR_LAB_IMAGE: { http: null, close: 4009, after: 'retry', text: 'Labs cannot start here yet: the lab image is missing. Tell your trainer (npm run lab:setup makes it).' },
	LAB_ERR_LAB_OUTPUT: { http: null, close: 4010, after: 'ended', text: 'Your lab sent this terminal data podlab does not accept (malformed, or past a limit), so it was ended. Open a new terminal; if a program in the lab changed podlab’s files there, reset the lab.' },
	LAB_ERR_LAB_TIMEOUT: { http: null, close: 4011, after: 'retry', text: 'Your lab did not answer in time, so this terminal was ended: podlab tries again. If it lasts, reset the lab.' },
	LAB_ERR_LAB_PREPARING: { http: 503, close: 4012, after: 'retry', text: 'This machine is preparing its labs (the first start takes a few minutes): your command runs as soon as the lab is ready.' },
	LAB_ERR_LAB_RESET: { http: null, close: 4013, after: 'retry', text: 'Your lab was reset: this terminal reconnects to a shell in the fresh lab.' },
	LAB_ERR_SHUTDOWN: { http: null, close: 1001, after: 'retry', text: 'The lab is shutting down.' },
	LAB_ERR_INTERNAL: { http: null, close: 1011, after: 'retry', text: 'The gateway hit an internal error.' },
	LAB_ERR_RESET_UNSUPPORTED: { http: 409, close: null, after: 'stop', text: 'This lab cannot be reset: its backend has no lab of one’s own to replace (only the incus backend resets labs).' },
	LAB_ERR_STATE_WRITE: { http: 503, close: null, after: 'retry', text: 'The lab could not save this change (its disk may be full): try again in a moment, or tell your trainer.' },
	LAB_ERR_CHECK_RUNNING: { http: 409, close: null, after: 'retry', text: 'A check of yours is still running: wait for its answer.' },
	LAB_ERR_CHECK_UNSUPPORTED: { http: 409, close: null, after: 'stop', text: 'This lab cannot run checks: its backend has no lab to run them in.' },
} as const satisfies Record<string, { http: number | null; close: number | null; after: ErrorAfter; text: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** Whether `code` is one of the protocol's error codes (a close reason, an API answer's `code`). */
export function isErrorCode(code: string): code is ErrorCode {
	return Object.hasOwn(ERRORS, code);
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
