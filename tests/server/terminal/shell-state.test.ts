import { describe, expect, it } from 'vitest';
import { INITIAL_SHELL_STATE, reduceShell, type ShellAction, type ShellEffect, type ShellState } from '../../../server/terminal/shell-state.ts';

/** Runs `actions` from `state`, collecting every effect. */
function play(actions: ShellAction[], state: ShellState = INITIAL_SHELL_STATE): { state: ShellState; effects: ShellEffect[] } {
	const effects: ShellEffect[] = [];
	for (const action of actions) {
		const result = reduceShell(state, action);
		state = result.state;
		effects.push(...result.effects);
	}
	return { state, effects };
}

const prompt: ShellAction[] = [{ kind: 'prompt-start' }, { kind: 'prompt-end' }];

describe('the shell-state reducer', () => {
	it('reports a typed command line with its exit status, and goes busy and idle around it', () => {
		const { state, effects } = play([...prompt, { kind: 'command-line', command: 'false' }, { kind: 'command-start' }, { kind: 'command-end', exit: 1 }]);
		expect(effects).toEqual([
			{ kind: 'status', busy: true },
			{ kind: 'typed-done', command: 'false', exit: 1 },
			{ kind: 'status', busy: false },
		]);
		expect(state).toMatchObject({ busy: false, atPrompt: false, run: null, typedCommand: null });
	});

	it('reports a Run once, with its code, not the lines the shell read from it', () => {
		const { effects } = play([
			...prompt,
			{ kind: 'run-claimed', block: 'b1', code: 'echo a\necho b' },
			{ kind: 'run-typed' },
			{ kind: 'command-line', command: 'echo a' },
			{ kind: 'command-start' },
			{ kind: 'command-line', command: 'echo b' },
			{ kind: 'command-end', exit: 0 },
		]);
		expect(effects).toEqual([
			{ kind: 'status', busy: true },
			{ kind: 'run-done', block: 'b1', code: 'echo a\necho b', exit: 0 },
			{ kind: 'status', busy: false },
		]);
	});

	it('keeps the terminal busy for a run claimed while a typed command was running, and reports that command', () => {
		const { state, effects } = play([
			...prompt,
			{ kind: 'command-line', command: 'sleep 1' },
			{ kind: 'command-start' },
			{ kind: 'run-claimed', block: 'b2', code: 'ls' },
			{ kind: 'command-end', exit: 130 },
		]);
		expect(effects).toEqual([
			{ kind: 'status', busy: true },
			{ kind: 'typed-done', command: 'sleep 1', exit: 130 },
		]);
		expect(state.busy).toBe(true);
		expect(state.run).toMatchObject({ block: 'b2', typed: false });
	});

	it('marks an empty block done with 0 when no command started', () => {
		const { effects } = play([...prompt, { kind: 'run-claimed', block: 'b3', code: '# nothing' }, { kind: 'run-typed' }, { kind: 'command-end', exit: 2 }]);
		expect(effects).toContainEqual({ kind: 'run-done', block: 'b3', code: '# nothing', exit: 0 });
	});

	it('marks a run interrupted (130) when the gateway pressed Ctrl-C before it started, and a started one with its own status', () => {
		const dropped = play([...prompt, { kind: 'run-claimed', block: 'b7', code: 'sleep 30' }, { kind: 'run-typed' }, { kind: 'interrupt-sent' }, { kind: 'command-end', exit: 0 }]);
		expect(dropped.effects).toContainEqual({ kind: 'run-done', block: 'b7', code: 'sleep 30', exit: 130 });
		const ran = play([...prompt, { kind: 'run-claimed', block: 'b8', code: 'sleep 30' }, { kind: 'run-typed' }, { kind: 'command-start' }, { kind: 'interrupt-sent' }, { kind: 'command-end', exit: 130 }]);
		expect(ran.effects).toContainEqual({ kind: 'run-done', block: 'b8', code: 'sleep 30', exit: 130 });
		// A Ctrl-C before anything was typed (the run still waits for the prompt) does not mark it.
		const waiting = play([{ kind: 'run-claimed', block: 'b9', code: '# nothing' }, { kind: 'interrupt-sent' }, ...prompt, { kind: 'run-typed' }, { kind: 'command-end', exit: 0 }]);
		expect(waiting.effects).toContainEqual({ kind: 'run-done', block: 'b9', code: '# nothing', exit: 0 });
	});

	it('gives back a run that never got a prompt, but not one already typed', () => {
		const waiting = play([{ kind: 'run-claimed', block: 'b4', code: 'ls' }, { kind: 'run-abandoned' }]);
		expect(waiting.state).toMatchObject({ run: null, busy: false });
		const typed = play([...prompt, { kind: 'run-claimed', block: 'b5', code: 'ls' }, { kind: 'run-typed' }, { kind: 'run-abandoned' }]);
		expect(typed.state.run).toMatchObject({ block: 'b5', typed: true });
	});

	it('ends with the shell: a run that exits the shell reports the exit, not a done', () => {
		const { state, effects } = play([...prompt, { kind: 'run-claimed', block: 'b6', code: 'exit 3' }, { kind: 'run-typed' }, { kind: 'shell-exit', exit: 3 }]);
		expect(effects).toEqual([{ kind: 'status', busy: true }, { kind: 'shell-exit', exit: 3 }]);
		expect(state.exited).toBe(true);
	});

	it('joins lines pasted at once into one typed command, cut to its maximum length', () => {
		const long = 'x'.repeat(1500);
		const { effects } = play([...prompt, { kind: 'command-line', command: long }, { kind: 'command-line', command: long }, { kind: 'command-start' }, { kind: 'command-end', exit: 0 }]);
		const typed = effects.find((effect) => effect.kind === 'typed-done');
		expect(typed).toMatchObject({ kind: 'typed-done', exit: 0 });
		expect(typed && 'command' in typed && typed.command.length).toBe(2000);
	});
});
