import { describe, expect, it } from 'vitest';
import { ScreenReplay, replayScreen } from '../../../../server/backends/tmux/screen-replay.ts';

const bytes = (text: string) => Buffer.from(text, 'latin1');

describe('replayScreen', () => {
	it('prints history and screen, then puts the cursor back relative to the last line', () => {
		const lines = ['$ for i in 1 2 3; do echo $i; done', '1', '2', '3', '$ ', '', ''].map(bytes);
		expect(replayScreen(lines, { x: 2, y: 3, height: 6 }).toString('latin1')).toBe('\x1b[m$ for i in 1 2 3; do echo $i; done\r\n1\r\n2\r\n3\r\n$ \r\n\r\n\x1b[m\x1b[2A\x1b[3G');
		expect(replayScreen([bytes('$ ')], { x: 2, y: 0, height: 1 }).toString('latin1')).toBe('\x1b[m$ \x1b[m\x1b[3G');
	});
});

describe('ScreenReplay', () => {
	it('replays the reply after a reattach’s cursor, once', () => {
		const replay = new ScreenReplay();
		expect(replay.reply([bytes('podlab-cursor 2 0 1')], false)).toBeNull();
		expect(replay.reply([bytes('$ ')], false)?.toString('latin1')).toBe('\x1b[m$ \x1b[m\x1b[3G');
		expect(replay.reply([bytes('$ ')], false)).toBeNull();
	});

	it('shows nothing for replies that do not follow a cursor, nor for a capture that failed', () => {
		const replay = new ScreenReplay();
		expect(replay.reply([bytes('$ ')], false)).toBeNull();
		expect(replay.reply([bytes('podlab-cursor 2 0 1'), bytes('more')], false)).toBeNull();
		expect(replay.reply([bytes('$ ')], false)).toBeNull();
		expect(replay.reply([bytes('podlab-cursor 2 0 1')], false)).toBeNull();
		expect(replay.reply([bytes("can't find pane")], true)).toBeNull();
		expect(replay.reply([bytes('$ ')], false)).toBeNull();
	});
});
