/**
 * tmux control mode as tmux 3.3 writes it (lines captured from `tmux -C`), parsed without a network.
 */
import { describe, expect, it } from 'vitest';
import { ControlModeParser, decodeOutput } from '../../../../server/backends/tmux/control-mode-parser.ts';

const bytes = (text: string) => Buffer.from(text, 'latin1');

describe('ControlModeParser', () => {
	it('turns %output into the bytes the pane wrote, and skips notifications', () => {
		const parser = new ControlModeParser();
		const events = parser.feed(
			bytes(
				'%session-changed $0 podlab-alice-main\n%layout-change @0 b25d,80x24,0,0,0 b25d,80x24,0,0,0 *\n' +
					'%output %0 \\033]133;A;nonce=n1\\007bash-5.2# \n%output %0 echo hi\\015\\012\\033[?2004l\\015hi\\015\\012\n',
			),
		);
		expect(events).toEqual([
			{ kind: 'output', data: bytes('\x1b]133;A;nonce=n1\x07bash-5.2# ') },
			{ kind: 'output', data: bytes('echo hi\r\n\x1b[?2004l\rhi\r\n') },
		]);
	});

	it('keeps a line cut across reads whole, and UTF-8 as it is', () => {
		const parser = new ControlModeParser();
		const line = Buffer.from('%output %3 grüße \\134 done\\015\\012\n');
		const events = [...parser.feed(line.subarray(0, 12)), ...parser.feed(line.subarray(12, 20)), ...parser.feed(line.subarray(20))];
		expect(events).toEqual([{ kind: 'output', data: Buffer.from('grüße \\ done\r\n') }]);
	});

	it('collects a reply up to its own %end, whatever the lines inside say', () => {
		const parser = new ControlModeParser();
		const events = parser.feed(
			bytes('%begin 1795718246 269 0\npodlab-cursor 10 5 6\n%end 1795718246 269 0\n%begin 1795718246 270 0\n%end 1 999 0\n%output %0 not output\n%end 1795718246 270 0\n'),
		);
		expect(events).toEqual([
			{ kind: 'reply', lines: [bytes('podlab-cursor 10 5 6')], error: false, own: false },
			{ kind: 'reply', lines: [bytes('%end 1 999 0'), bytes('%output %0 not output')], error: false, own: false },
		]);
		expect(parser.feed(bytes("%begin 1 5 1\ncan't find session: =podlab-x-main\n%error 1 5 1\n"))).toEqual([
			{ kind: 'reply', lines: [bytes("can't find session: =podlab-x-main")], error: true, own: true },
		]);
	});

	it('passes podlab-host.sh lines, plain text and the exit on', () => {
		const parser = new ControlModeParser();
		expect(parser.feed(bytes('%podlab-busy\npodlab: this terminal was ended on the lab host.\n%exit\n'))).toEqual([
			{ kind: 'podlab', name: 'busy', value: '' },
			{ kind: 'text', data: bytes('podlab: this terminal was ended on the lab host.') },
			{ kind: 'exit' },
		]);
	});
});

describe('ControlModeParser bounds (the lab side is the lab root’s to replace)', () => {
	const limits = { lineBytes: 1000, replyBytes: 5000, replyLines: 100 };

	it('ends at a line past its bound, however it is cut, and reads nothing after it', () => {
		const whole = new ControlModeParser(limits);
		expect(whole.feed(bytes(`%output %0 ${'a'.repeat(1200)}\n%output %0 after\n`))).toEqual([{ kind: 'overflow', what: 'a line of 1211 bytes' }]);
		const cut = new ControlModeParser(limits);
		const events = [];
		for (let index = 0; index < 20; index++) events.push(...cut.feed(bytes('b'.repeat(100))));
		expect(events).toEqual([{ kind: 'overflow', what: 'a line longer than 1000 bytes' }]);
		expect(cut.feed(bytes('\n%output %0 later\n'))).toEqual([]);
	});

	it('takes a line at its bound, cut into many pieces, whole', () => {
		const parser = new ControlModeParser(limits);
		const line = bytes(`%output %0 ${'c'.repeat(limits.lineBytes - 11)}\n`);
		const events = [];
		for (let at = 0; at < line.length; at += 7) events.push(...parser.feed(line.subarray(at, at + 7)));
		expect(events).toEqual([{ kind: 'output', data: bytes('c'.repeat(limits.lineBytes - 11)) }]);
	});

	it('ends at a reply that does not end within its bound', () => {
		const parser = new ControlModeParser(limits);
		const events = parser.feed(bytes(`%begin 1 7 0\n${'a long line of a reply: sixty bytes or so, to fill its bound\n'.repeat(95)}%end 1 7 0\n`));
		expect(events).toEqual([{ kind: 'overflow', what: 'a reply longer than 5000 bytes' }]);
		const many = new ControlModeParser(limits);
		expect(many.feed(bytes(`%begin 1 8 0\n${'x\n'.repeat(150)}%end 1 8 0\n`))).toEqual([{ kind: 'overflow', what: 'a reply of more than 100 lines' }]);
		const within = new ControlModeParser(limits);
		expect(within.feed(bytes(`%begin 1 9 0\n${'x\n'.repeat(100)}%end 1 9 0\n`))).toMatchObject([{ kind: 'reply', error: false }]);
	});
});

describe('decodeOutput', () => {
	it('undoes the octal escapes and nothing else', () => {
		expect(decodeOutput(bytes('a\\134b\\033[1m\\007\\12x\\'))).toEqual(bytes('a\\b\x1b[1m\x07\\12x\\'));
	});
});
