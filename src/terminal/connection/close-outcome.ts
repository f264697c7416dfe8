/**
 * What a closed socket means for a terminal's connection, from its close code, its reason and the
 * gateway's `error` that came before it: what the error table says a client does next
 * (error-policy.ts), in the words the reader sees. Pure: terminal-connection.ts carries it out.
 */
import type { ErrorCode } from '../../protocol-values.ts';
import { afterError, errorOfClose } from './error-policy.ts';

export type CloseOutcome = {
	/** The protocol's error the close stands for; null for a close it does not explain (a dropped network). */
	error: ErrorCode | null;
} & (
	| /** The shell's own end carries its exit status (`shellEnded`); the other ends (idle, class over) say why. */
	{ next: 'ended'; shellEnded: boolean; reason: string }
	/** Retrying cannot help. */
	| { next: 'stop'; code: string; message: string }
	/** Try again; `internal`: the gateway or the lab failed (counted: too many in a row stop). */
	| { next: 'retry'; cause: string; internal: boolean; message: string }
);

/** What the status line says while a retry waits, for the closes that are not a dropped connection. */
const RETRY_CAUSES: Partial<Record<ErrorCode, string>> = { LAB_ERR_SHUTDOWN: 'The lab is restarting', LAB_ERR_LAB_RESET: 'Your lab was reset' };

export function closeOutcome(code: number, reason: string, said: { code: string; message: string } | null): CloseOutcome {
	const error = errorOfClose(code, said?.code ?? reason);
	// The gateway's sentence came before its close; a close made by the WebSocket layer has none.
	const message = said?.message ?? `The connection was closed (code ${code}${error ? `, ${error}` : ''}).`;
	// What to do next is the error table's to say, not the close code's.
	switch (error ? afterError(error) : 'retry') {
		case 'ended':
			return { error, next: 'ended', shellEnded: error === 'LAB_ERR_ENDED' || error === 'LAB_ERR_NO_SUCH_TERMINAL', reason: message };
		case 'stop':
			return { error, next: 'stop', code: error ?? `close ${code}`, message };
		default: {
			// A lab being prepared says how long in the gateway's own words.
			const cause = error === 'LAB_ERR_LAB_PREPARING' ? message : ((error && RETRY_CAUSES[error]) ?? 'The connection dropped');
			return { error, next: 'retry', cause, internal: error === 'LAB_ERR_INTERNAL' || error === 'LAB_ERR_SPAWN', message };
		}
	}
}
