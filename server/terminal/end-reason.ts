/**
 * The ways a terminal can end: what its attached clients are told for each, and whether its process
 * is let go (a backend that keeps shells keeps it) or ended for good.
 */
import type { ErrorCode } from '../../src/protocol.ts';
import type { LabProblem } from '../backends/backend.ts';

export type EndReason = 'exit' | 'grace' | 'shutdown' | 'reset' | 'closed' | 'idle' | 'deadline' | LabProblem;

/** What attached clients are told for each way a terminal can end. */
const END_CODES: Record<EndReason, ErrorCode> = {
	exit: 'LAB_ERR_ENDED',
	grace: 'LAB_ERR_ENDED',
	closed: 'LAB_ERR_ENDED',
	shutdown: 'LAB_ERR_SHUTDOWN',
	reset: 'LAB_ERR_LAB_RESET',
	idle: 'LAB_ERR_IDLE',
	deadline: 'LAB_ERR_CLASS_OVER',
	LAB_ERR_LAB_OUTPUT: 'LAB_ERR_LAB_OUTPUT',
	LAB_ERR_LAB_TIMEOUT: 'LAB_ERR_LAB_TIMEOUT',
};

const LAB_PROBLEMS: Record<LabProblem, true> = { LAB_ERR_LAB_OUTPUT: true, LAB_ERR_LAB_TIMEOUT: true };

/** The error code attached clients are told when a terminal ends for `reason`. */
export function endCodeOf(reason: EndReason): ErrorCode {
	return END_CODES[reason];
}

/**
 * Whether a terminal ended for `reason` lets go of its process (`detach`) rather than ending it for
 * good (`kill`): a gateway stopping, or a shell that exited, lets go; and a process the backend ended
 * for a problem is gone already, so what it left in the lab stays.
 */
export function letsGoOfProcess(reason: EndReason): boolean {
	return reason === 'shutdown' || reason === 'exit' || reason in LAB_PROBLEMS;
}
