import { describe, expect, it } from 'vitest';
import { COMMAND_LINE_MAX_CHARS, Osc133Parser } from '../../../server/terminal/osc133.ts';

const NONCE = 'abc123';
const marker = (body: string, end = '\x07') => `\x1b]133;${body};nonce=${NONCE}${end}`;

describe('Osc133Parser', () => {
	it('decodes every marker kind with the right nonce', () => {
		const parser = new Osc133Parser(NONCE);
		const text = `${marker('A')}$ ${marker('B')}ls\r\n${marker('C')}file\r\n${marker('D;2')}${marker('Z;130', '\x1b\\')}`;
		expect(parser.feed(Buffer.from(text))).toEqual([
			{ kind: 'prompt-start' },
			{ kind: 'prompt-end' },
			{ kind: 'command-start' },
			{ kind: 'command-end', exit: 2 },
			{ kind: 'shell-exit', exit: 130 },
		]);
	});

	it('ignores markers with a wrong or missing nonce', () => {
		const parser = new Osc133Parser(NONCE);
		const forged = '\x1b]133;D;0;nonce=guess\x07\x1b]133;D;0\x07\x1b]133;C\x07';
		expect(parser.feed(Buffer.from(forged))).toEqual([]);
		expect(parser.feed(Buffer.from(marker('D;1')))).toEqual([{ kind: 'command-end', exit: 1 }]);
	});

	it('finds a marker split across chunks at every position', () => {
		const text = `out${marker('D;7')}more`;
		for (let split = 0; split <= text.length; split++) {
			const parser = new Osc133Parser(NONCE);
			const events = [...parser.feed(Buffer.from(text.slice(0, split))), ...parser.feed(Buffer.from(text.slice(split)))];
			expect(events, `split at ${split}`).toEqual([{ kind: 'command-end', exit: 7 }]);
		}
	});

	it('finds a marker fed one byte at a time', () => {
		const parser = new Osc133Parser(NONCE);
		const events = [...Buffer.from(`x\x1b[1m${marker('C')}y${marker('D;0', '\x1b\\')}`)].flatMap((byte) => parser.feed(Buffer.from([byte])));
		expect(events).toEqual([{ kind: 'command-start' }, { kind: 'command-end', exit: 0 }]);
	});

	it('skips other escape sequences and malformed markers', () => {
		const parser = new Osc133Parser(NONCE);
		const text = `\x1b]0;title\x07\x1b[31mred\x1b]133;D;notanumber;nonce=${NONCE}\x07\x1b]133;Q;nonce=${NONCE}\x07${marker('A')}`;
		expect(parser.feed(Buffer.from(text))).toEqual([{ kind: 'prompt-start' }]);
	});

	it('gives up on an unterminated marker instead of buffering forever', () => {
		const parser = new Osc133Parser(NONCE);
		parser.feed(Buffer.from(`\x1b]133;D;0;${'x'.repeat(300)}`));
		expect(parser.feed(Buffer.from(marker('D;5')))).toEqual([{ kind: 'command-end', exit: 5 }]);
	});
});

describe('Osc133Parser, the command line (E)', () => {
	it('undoes the shell’s escapes: backslash, semicolon, newline, tab', () => {
		const parser = new Osc133Parser(NONCE);
		const escaped = String.raw`echo 'a\x3bb' \\ "c"\x3b cat <<EOF\nx\ty\nEOF`;
		expect(parser.feed(Buffer.from(marker(`E;${escaped}`)))).toEqual([{ kind: 'command-line', command: `echo 'a;b' \\ "c"; cat <<EOF\nx\ty\nEOF` }]);
	});

	it('reads the command as UTF-8, split across chunks at every position', () => {
		const text = Buffer.from(`${marker('E;echo héllo → ✓')}${marker('C')}`);
		for (let split = 0; split <= text.length; split++) {
			const parser = new Osc133Parser(NONCE);
			const events = [...parser.feed(text.subarray(0, split)), ...parser.feed(text.subarray(split))];
			expect(events, `split at ${split}`).toEqual([{ kind: 'command-line', command: 'echo héllo → ✓' }, { kind: 'command-start' }]);
		}
	});

	it('ignores a command line with a wrong or missing nonce, or escaped as the shell never does', () => {
		const parser = new Osc133Parser(NONCE);
		const forged = `\x1b]133;E;rm -rf /;nonce=guess\x07\x1b]133;E;ls\x07${marker('E;a;b')}${marker(String.raw`E;\q`)}${marker('E;trailing\\')}`;
		expect(parser.feed(Buffer.from(forged))).toEqual([]);
		expect(parser.feed(Buffer.from(marker('E;ls')))).toEqual([{ kind: 'command-line', command: 'ls' }]);
	});

	it('takes the longest command line the shell sends, and ignores a longer one', () => {
		const parser = new Osc133Parser(NONCE);
		// The worst case: every character escaped to four bytes.
		const longest = '\\x3b'.repeat(COMMAND_LINE_MAX_CHARS);
		expect(parser.feed(Buffer.from(marker(`E;${longest}`)))).toEqual([{ kind: 'command-line', command: ';'.repeat(COMMAND_LINE_MAX_CHARS) }]);
		const tooLong = 'x'.repeat(5 * COMMAND_LINE_MAX_CHARS);
		expect(parser.feed(Buffer.from(`${marker(`E;${tooLong}`)}${marker('D;0')}`))).toEqual([{ kind: 'command-end', exit: 0 }]);
	});

	it('stops waiting for a command line once it is too long to be one', () => {
		const parser = new Osc133Parser(NONCE);
		expect(parser.feed(Buffer.from(`\x1b]133;E;${'x'.repeat(5 * COMMAND_LINE_MAX_CHARS)}`))).toEqual([]);
		expect(parser.feed(Buffer.from(`xx;nonce=${NONCE}\x07${marker('D;5')}`))).toEqual([{ kind: 'command-end', exit: 5 }]);
	});
});
