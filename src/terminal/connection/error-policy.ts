/**
 * What an error means for the browser's connection: which error a WebSocket close stands for, and
 * what a client does next. The protocol's error table (src/protocol-values.ts ERRORS) compiled at
 * build time without its sentences: the gateway sends the sentence with every error it gives
 * (its `error` message before a close), so the reader's first Run does not download them.
 */
import { ERROR_POLICY } from 'virtual:podlab/error-policy';
import type { ErrorAfter, ErrorCode } from '../../protocol-values.ts';

/** Whether `code` is one of the protocol's error codes (a close reason, an API answer's `code`). */
export function isErrorCode(code: string): code is ErrorCode {
	return Object.hasOwn(ERROR_POLICY, code);
}

/**
 * The error a WebSocket close stands for: its reason when that is a code (the gateway always gives
 * one), else the one error with that close code (closes made by the WebSocket layer itself, such as
 * 1009 for an oversize frame, have no reason). Null for closes the table does not explain (1006).
 */
export function errorOfClose(closeCode: number, reason: string): ErrorCode | null {
	if (isErrorCode(reason)) return reason;
	const matches = (Object.keys(ERROR_POLICY) as ErrorCode[]).filter((code) => ERROR_POLICY[code].close === closeCode);
	return matches.length === 1 ? matches[0]! : null;
}

/** What a client does after `code`: retry, stop, offer a new shell (ended), or stay. */
export function afterError(code: ErrorCode): ErrorAfter {
	return ERROR_POLICY[code].after;
}
