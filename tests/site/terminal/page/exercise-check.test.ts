import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE, checkOutcome, hintButtonLabel, hintTitle, savedOutcome } from '../../../../src/terminal/page/exercise-check.ts';

const answer = (status: number, body: unknown) => ({ status, ok: status >= 200 && status < 300, body });

describe('checkOutcome', () => {
	it('says Solved and counts exit 0 for a check that passed', () => {
		expect(checkOutcome('hello', answer(200, { id: 'hello', ok: true, message: '', ms: 120 }))).toEqual({ state: 'solved', text: '✓ Solved', exit: 0 });
	});

	it("shows the script's message after Not yet, and counts exit 1, for a check that did not pass", () => {
		expect(checkOutcome('hello', answer(200, { id: 'hello', ok: false, message: 'There is no /root/hello.txt yet.', ms: 80 }))).toEqual({
			state: 'not-yet',
			text: 'Not yet: There is no /root/hello.txt yet.',
			exit: 1,
		});
		expect(checkOutcome('hello', answer(200, { id: 'hello', ok: false, message: '', ms: 80 }))).toMatchObject({ text: 'Not yet.', exit: 1 });
	});

	it('shows a message as one line of plain text, at most 300 characters', () => {
		const outcome = checkOutcome('hello', answer(200, { id: 'hello', ok: false, message: `\u001b[31mred\u001b[0m\nnext ${'x'.repeat(400)}`, ms: 1 }));
		expect(outcome).toMatchObject({ state: 'not-yet' });
		const text = (outcome as { text: string }).text;
		expect(text.startsWith('Not yet: [31mred [0m next xxx')).toBe(true);
		expect(text).not.toMatch(/[\u0000-\u001f]/);
		expect(text.length).toBe('Not yet: '.length + MAX_MESSAGE);
	});

	it('does not count an answer for another exercise, or one it cannot read', () => {
		for (const body of [{ id: 'other', ok: true, message: '' }, { id: 'hello', ok: 'yes', message: '' }, { id: 'hello', ok: true }, 'text', undefined]) {
			expect(checkOutcome('hello', answer(200, body)), JSON.stringify(body)).toEqual({ state: 'error', text: 'The gateway sent an answer this page cannot read.' });
		}
	});

	it('asks for a session when the gateway knows no reader yet', () => {
		expect(checkOutcome('hello', answer(401, { code: 'LAB_ERR_NO_READER', message: 'No reader session: load the page again to get one.' }))).toEqual({ state: 'no-reader' });
	});

	it("shows the gateway's own sentence for one of the protocol's errors, and the status for anything else", () => {
		expect(checkOutcome('hello', answer(409, { code: 'LAB_ERR_CHECK_RUNNING', message: 'A check of yours is still running: wait for its answer.' }))).toEqual({
			state: 'error',
			text: 'A check of yours is still running: wait for its answer.',
		});
		expect(checkOutcome('hello', answer(502, { code: 'SOMETHING_ELSE', message: 'Bad gateway' }))).toEqual({ state: 'error', text: 'The gateway answered 502: the check did not run.' });
		expect(checkOutcome('hello', answer(500, undefined))).toEqual({ state: 'error', text: 'The gateway answered 500: the check did not run.' });
	});

	it('says that the gateway does not answer when nothing came back', () => {
		expect(checkOutcome('hello', null)).toEqual({ state: 'error', text: 'The gateway does not answer: try again in a moment.' });
	});
});

describe('savedOutcome', () => {
	it('shows Solved for a saved exit 0 and Not yet for any other', () => {
		expect(savedOutcome(0)).toMatchObject({ state: 'solved', text: '✓ Solved' });
		expect(savedOutcome(1)).toEqual({ state: 'not-yet', text: 'Not yet: your last check did not pass.' });
	});
});

describe('hint words', () => {
	it('offers the first hint, then the next ones, counting them', () => {
		expect(hintButtonLabel(0, 2)).toBe('Show a hint (1 of 2)');
		expect(hintButtonLabel(1, 2)).toBe('Show the next hint (2 of 2)');
	});

	it('numbers hints when there are several, and not a single one', () => {
		expect(hintTitle(2, 3)).toBe('Hint 2 of 3');
		expect(hintTitle(1, 1)).toBe('Hint');
	});
});
