/**
 * Reset a reader's lab: the one sequence behind `POST /api/lab/reset` and the instructor's resets.
 * The backend promises the reader a fresh lab and writes the notice into their open terminals; the
 * terminals then end with LAB_ERR_LAB_RESET (`after: retry`), so each panel knows why, reconnects
 * on its own, and its reconnect starts a shell in the new lab.
 */
import type { Logger } from 'pino';
import { LabError, type LabResetResult } from '../../src/protocol.ts';
import type { Reader } from '../readers.ts';
import type { LabBackend } from './backend.ts';

/** The line a reset leaves in each open terminal, on a line of its own. */
export const RESET_NOTICE = '\r\n\x1b[1;33mYour lab was reset: a fresh, empty one is starting, and this terminal reconnects to it.\x1b[0m\r\n';

/**
 * @throws {LabError} `LAB_ERR_RESET_UNSUPPORTED` when the backend has no lab of one's own to replace.
 */
export async function resetReaderLab(backend: LabBackend, reader: Reader, logger: Logger): Promise<LabResetResult> {
	if (!backend.resetLab) throw new LabError('LAB_ERR_RESET_UNSUPPORTED');
	const started = performance.now();
	// Called before the terminals end: its first, synchronous part writes the notice and moves the reader to the new lab.
	const resetting = backend.resetLab(reader.label, RESET_NOTICE);
	const terminals = [...reader.terminals.values()];
	// Letting go of the old lab's shells (not killing them in a lab that is being removed anyway).
	await Promise.all(terminals.map((terminal) => terminal.end('reset')));
	const lab = await resetting;
	const ms = Math.round(performance.now() - started);
	logger.info({ reader: reader.label, lab, terminalsEnded: terminals.length, ms }, 'lab reset');
	return { student: reader.student, lab, terminalsEnded: terminals.length, ms };
}
