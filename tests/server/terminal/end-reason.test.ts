import { describe, expect, it } from 'vitest';
import { endCodeOf, letsGoOfProcess, type EndReason } from '../../../server/terminal/end-reason.ts';

describe('endCodeOf', () => {
	it('tells clients why their terminal ended, in the ERRORS table’s codes', () => {
		expect(endCodeOf('exit')).toBe('LAB_ERR_ENDED');
		expect(endCodeOf('grace')).toBe('LAB_ERR_ENDED');
		expect(endCodeOf('shutdown')).toBe('LAB_ERR_SHUTDOWN');
		expect(endCodeOf('reset')).toBe('LAB_ERR_LAB_RESET');
		expect(endCodeOf('idle')).toBe('LAB_ERR_IDLE');
		expect(endCodeOf('deadline')).toBe('LAB_ERR_CLASS_OVER');
		expect(endCodeOf('LAB_ERR_LAB_TIMEOUT')).toBe('LAB_ERR_LAB_TIMEOUT');
	});
});

describe('letsGoOfProcess', () => {
	it('lets go of the process for a gateway stopping, a shell that exited or a lab problem, and ends it for good otherwise', () => {
		const reasons: EndReason[] = ['exit', 'grace', 'shutdown', 'reset', 'closed', 'idle', 'deadline', 'LAB_ERR_LAB_OUTPUT', 'LAB_ERR_LAB_TIMEOUT'];
		expect(reasons.filter(letsGoOfProcess)).toEqual(['exit', 'shutdown', 'LAB_ERR_LAB_OUTPUT', 'LAB_ERR_LAB_TIMEOUT']);
	});
});
