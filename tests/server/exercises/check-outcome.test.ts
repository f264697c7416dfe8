import { describe, expect, it } from 'vitest';
import { checkOutcome, MAX_MESSAGE_CHARS } from '../../../server/exercises/check-outcome.ts';

describe('checkOutcome', () => {
	it('calls exit 0 solved, whatever the script printed', () => {
		expect(checkOutcome({ exit: 0, stdout: 'noise\n', stderr: 'more noise' })).toEqual({ ok: true, message: 'Solved.' });
	});

	it('shows the last line the script printed, from its output before its errors', () => {
		expect(checkOutcome({ exit: 1, stdout: 'looking…\nThe two containers are in different network namespaces.\n\n', stderr: 'grep: warning' })).toEqual({
			ok: false,
			message: 'The two containers are in different network namespaces.',
		});
		expect(checkOutcome({ exit: 2, stdout: '', stderr: 'cat: /root/hello.txt: No such file or directory\n' }).message).toBe('cat: /root/hello.txt: No such file or directory');
	});

	it('says when the script was killed for taking too long', () => {
		expect(checkOutcome({ exit: 137, stdout: 'still looking', stderr: '' })).toEqual({ ok: false, message: 'The check took longer than 20 s.' });
		expect(checkOutcome({ exit: null, stdout: '', stderr: '' }).message).toBe('The check took longer than 20 s.');
	});

	it('takes nothing from the lab but plain text of bounded length (the lab is the reader’s own: untrusted)', () => {
		const hostile = `\u001b]8;;http://evil/\u0007click\u001b]8;;\u0007 \u001b[2J${'x'.repeat(10_000)}`;
		const { message } = checkOutcome({ exit: 1, stdout: hostile, stderr: '' });
		expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
		expect([...message].length).toBe(MAX_MESSAGE_CHARS);
	});

	it('says the script gave no reason when it printed nothing', () => {
		expect(checkOutcome({ exit: 3, stdout: '\n  \n', stderr: '' }).message).toBe('The check says not yet (exit status 3), without a word why.');
	});
});
