import { describe, expect, it } from 'vitest';
import { TmuxAnsweredQueries } from '../../../../server/backends/tmux/answered-queries.ts';

const bytes = (text: string) => Buffer.from(text, 'latin1');

describe('TmuxAnsweredQueries', () => {
	it('takes out the queries tmux answers, and nothing else', () => {
		const queries = new TmuxAnsweredQueries();
		const output = 'a\x1b[cb\x1b[>0cc\x1b[6nd\x1b[5ne\x1b[>qf\x1b[18tg\x1b[?6n\x1b[14t\x1b[1;31mred\x1b[0m\x1b]11;?\x07\x1b[2J';
		expect(queries.filter(bytes(output)).toString('latin1')).toBe('abcdefg\x1b[?6n\x1b[14t\x1b[1;31mred\x1b[0m\x1b]11;?\x07\x1b[2J');
	});

	it('finds a query cut between two outputs, holding back only the unfinished sequence', () => {
		const queries = new TmuxAnsweredQueries();
		expect(queries.filter(bytes('before\x1b')).toString('latin1')).toBe('before');
		expect(queries.filter(bytes('[>')).toString('latin1')).toBe('');
		expect(queries.filter(bytes('cafter\x1b[1')).toString('latin1')).toBe('after');
		expect(queries.filter(bytes('2;1H')).toString('latin1')).toBe('\x1b[12;1H');
		expect(queries.filter(bytes('\x1b]133;A;nonce=n1\x07')).toString('latin1')).toBe('\x1b]133;A;nonce=n1\x07');
	});
});
