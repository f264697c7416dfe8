import { spawn } from 'node-pty';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLEAR_LINE_KEY, typedForm } from '../../../server/terminal/typed-form.ts';

const PASTE = (text: string) => `\x1b[200~${text}\x1b[201~`;

describe('typedForm', () => {
	it('types one line and presses Enter', () => {
		expect(typedForm('ip netns\n')).toBe(`${CLEAR_LINE_KEY}ip netns\r`);
	});

	it('pastes several lines as one bracketed paste when they fit the screen', () => {
		expect(typedForm('cat <<EOF\nhi\nEOF\r\n')).toBe(`${CLEAR_LINE_KEY}${PASTE('cat <<EOF\nhi\nEOF')}\r`);
	});

	it('cannot be tricked into ending the paste early', () => {
		expect(typedForm('echo a\n\x1b[201~rm -rf ~\necho b')).toBe(`${CLEAR_LINE_KEY}${PASTE('echo a\nrm -rf ~\necho b')}\r`);
	});

	it('types a block taller than the screen line by line, inside one { } group', () => {
		const code = ['cat <<EOF', ...Array.from({ length: 20 }, (_, index) => `\tline ${index}`), 'EOF'].join('\n');
		const typed = typedForm(code, { cols: 80, rows: 15 });
		expect(typed.startsWith(`${CLEAR_LINE_KEY}{\r${PASTE('cat <<EOF')}\r${PASTE('\tline 0')}\r`)).toBe(true);
		expect(typed.endsWith(`${PASTE('EOF')}\r}\r`)).toBe(true);
		// The same block in a taller terminal is one paste.
		expect(typedForm(code, { cols: 80, rows: 40 })).toBe(`${CLEAR_LINE_KEY}${PASTE(code)}\r`);
	});

	it('counts wrapped rows: a block of few but long lines does not fit a phone', () => {
		const code = Array.from({ length: 5 }, (_, index) => `echo ${String(index).repeat(100)}`).join('\n');
		expect(typedForm(code, { cols: 120, rows: 24 })).toBe(`${CLEAR_LINE_KEY}${PASTE(code)}\r`);
		expect(typedForm(code, { cols: 40, rows: 14 }).startsWith(`${CLEAR_LINE_KEY}{\r`)).toBe(true);
		// Two cells per CJK character.
		const wide = Array.from({ length: 5 }, () => `echo ${'鹿'.repeat(25)}`).join('\n');
		expect(typedForm(wide, { cols: 40, rows: 10 }).startsWith(`${CLEAR_LINE_KEY}{\r`)).toBe(true);
		expect(typedForm(wide, { cols: 60, rows: 10 })).toBe(`${CLEAR_LINE_KEY}${PASTE(wide)}\r`);
	});
});

/**
 * What readline prints for each form, in a real bash with podlab's rc file, at a terminal's size:
 * the lines of the block must come out each on its own row, in order.
 */
describe('typedForm in a real bash', () => {
	const rcfile = fileURLToPath(new URL('../../../server/shell/podlab.bashrc', import.meta.url));
	const block = ['cat <<EOF | wc -l', ...Array.from({ length: 24 }, (_, index) => `  key${index}: "value ${index}"`), 'EOF'].join('\n');

	async function echoed(cols: number, rows: number): Promise<string> {
		const shell = spawn('bash', ['--rcfile', rcfile, '-i'], {
			cols,
			rows,
			cwd: '/tmp',
			env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', TERM: 'xterm-256color', PODLAB_NONCE: 'test', PS1: '$ ' },
		});
		let output = '';
		shell.onData((data) => (output += data));
		try {
			await expect.poll(() => output.includes('133;B;'), { timeout: 10_000 }).toBe(true);
			shell.write(typedForm(block, { cols, rows }));
			await expect.poll(() => output.includes('\x0724\r\n'), { timeout: 10_000 }).toBe(true);
		} finally {
			shell.kill();
		}
		return output;
	}

	/** Rows as the terminal shows them, for output without cursor movement: each CR LF starts a row. */
	const rowsOf = (raw: string) =>
		raw
			.replace(/\x1b\][^\x07]*\x07|\x1b\[[0-?]*[ -/]*[@-~]/g, '')
			.split('\r\n')
			.map((row) => row.replace(/^.*\r(?!$)/s, '').replace(/\r$/, ''));

	it.each([
		[80, 15],
		[38, 14],
	])('shows every line of a 26-line heredoc in a %i×%i terminal', async (cols, rows) => {
		const shown = rowsOf(await echoed(cols, rows));
		const lines = block.split('\n');
		let from = 0;
		for (const line of lines) {
			const at = shown.findIndex((row, index) => index >= from && row.endsWith(line) && row.length <= line.length + 2);
			expect(at, `"${line}" shown on a row of its own after row ${from}:\n${shown.join('\n')}`).toBeGreaterThanOrEqual(from);
			from = at + 1;
		}
	});
});
