import { describe, expect, it } from 'vitest';
import { ERRORS } from '../../../../src/protocol-values.ts';
import { closeOutcome } from '../../../../src/terminal/connection/close-outcome.ts';

const said = (code: keyof typeof ERRORS) => ({ code, message: ERRORS[code].text });

describe('closeOutcome', () => {
	it('ends a terminal whose shell ended, keeping its exit status for the caller', () => {
		expect(closeOutcome(4000, 'LAB_ERR_ENDED', said('LAB_ERR_ENDED'))).toMatchObject({ next: 'ended', shellEnded: true, error: 'LAB_ERR_ENDED' });
	});

	it('ends with the gateway’s reason when the gateway ended the shell (idle, class over)', () => {
		expect(closeOutcome(4002, 'LAB_ERR_IDLE', said('LAB_ERR_IDLE'))).toEqual({ error: 'LAB_ERR_IDLE', next: 'ended', shellEnded: false, reason: ERRORS.LAB_ERR_IDLE.text });
	});

	it('stops when retrying cannot help, in the gateway’s words', () => {
		expect(closeOutcome(4001, 'LAB_ERR_TERMINAL_LIMIT', said('LAB_ERR_TERMINAL_LIMIT'))).toEqual({
			error: 'LAB_ERR_TERMINAL_LIMIT',
			next: 'stop',
			code: 'LAB_ERR_TERMINAL_LIMIT',
			message: ERRORS.LAB_ERR_TERMINAL_LIMIT.text,
		});
	});

	it('reads the error from the close code alone when the WebSocket layer closed (no reason, no sentence)', () => {
		expect(closeOutcome(1009, '', null)).toEqual({
			error: 'LAB_ERR_FRAME_TOO_LARGE',
			next: 'stop',
			code: 'LAB_ERR_FRAME_TOO_LARGE',
			message: 'The connection was closed (code 1009, LAB_ERR_FRAME_TOO_LARGE).',
		});
	});

	it('retries a dropped connection, a restart, a reset and a lab being prepared, each saying so', () => {
		expect(closeOutcome(1006, '', null)).toMatchObject({ error: null, next: 'retry', cause: 'The connection dropped', internal: false });
		expect(closeOutcome(1001, 'LAB_ERR_SHUTDOWN', null)).toMatchObject({ next: 'retry', cause: 'The lab is restarting' });
		expect(closeOutcome(4013, 'LAB_ERR_LAB_RESET', said('LAB_ERR_LAB_RESET'))).toMatchObject({ next: 'retry', cause: 'Your lab was reset' });
		expect(closeOutcome(4012, 'LAB_ERR_LAB_PREPARING', said('LAB_ERR_LAB_PREPARING'))).toMatchObject({ next: 'retry', cause: ERRORS.LAB_ERR_LAB_PREPARING.text });
	});

	it('marks the gateway’s and the lab’s own failures, which stop after a few in a row', () => {
		expect(closeOutcome(1011, 'LAB_ERR_SPAWN', said('LAB_ERR_SPAWN'))).toMatchObject({ next: 'retry', internal: true, error: 'LAB_ERR_SPAWN' });
		expect(closeOutcome(1008, 'LAB_ERR_RATE', said('LAB_ERR_RATE'))).toMatchObject({ next: 'retry', internal: false });
	});

	it('takes the error from the gateway’s sentence over an unexplained reason', () => {
		expect(closeOutcome(1008, 'something else', said('LAB_ERR_FORBIDDEN'))).toMatchObject({ error: 'LAB_ERR_FORBIDDEN', next: 'stop' });
	});
});
