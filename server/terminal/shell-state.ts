/**
 * What the shell in a terminal is doing, worked out from its OSC 133 markers (osc133.ts) and from
 * the Run requests typed into it: at the prompt or busy, which Run is waiting or running, which
 * command line the reader typed. A pure reducer: state and one event in, the next state and what to
 * tell the world out — so every case (a run while busy, a run that ends the shell, a typed line
 * between two runs) is tested without a shell.
 */
import type { ShellEvent } from './osc133.ts';

/** How much of a command line is reported. */
export const COMMAND_MAX_CHARS = 2000;

export interface PendingRun {
	block: string;
	code: string;
	/** Written to the shell yet? Until then prompt markers belong to whatever came before. */
	typed: boolean;
	/** Saw the command start (OSC 133 C): without it, nothing ran (an empty block). */
	started: boolean;
	/**
	 * The gateway pressed Ctrl-C while it was typed and not started: the shell dropped the line
	 * before running it, so it ended interrupted (130), not as an empty block.
	 */
	interrupted?: boolean;
}

export interface ShellState {
	readonly busy: boolean;
	/** Readline is showing a prompt (A or B seen since the last command): typed text goes to it. */
	readonly atPrompt: boolean;
	/** The Run that claimed the terminal: waiting for the prompt, or typed and running. */
	readonly run: PendingRun | null;
	/** The line(s) the reader typed since the last prompt, from E markers, until D says how they ended. */
	readonly typedCommand: string | null;
	readonly exited: boolean;
}

/** What a transition asks the terminal to do. */
export type ShellEffect =
	/** Tell every socket the terminal became busy or idle. */
	| { kind: 'status'; busy: boolean }
	/** A Run finished: `done` to every socket, and the run reported (progress, transcripts). */
	| { kind: 'run-done'; block: string; code: string; exit: number }
	/** A command line the reader typed finished (transcripts). */
	| { kind: 'typed-done'; command: string; exit: number }
	/** The shell exited with `exit`: the terminal ends. */
	| { kind: 'shell-exit'; exit: number };

export type ShellAction =
	| ShellEvent
	/** A Run claims the terminal (it waits for the prompt before it is typed). */
	| { kind: 'run-claimed'; block: string; code: string }
	/** The claimed Run was typed into the shell. */
	| { kind: 'run-typed' }
	/** The claimed Run gave up before it was typed (no prompt in time, the terminal ended). */
	| { kind: 'run-abandoned' }
	/** The gateway writes Ctrl-C into the shell (an interrupt, or the reader's SIGINT). */
	| { kind: 'interrupt-sent' };

export const INITIAL_SHELL_STATE: ShellState = { busy: false, atPrompt: false, run: null, typedCommand: null, exited: false };

export function reduceShell(state: ShellState, action: ShellAction): { state: ShellState; effects: ShellEffect[] } {
	const effects: ShellEffect[] = [];
	const next = (changes: Partial<ShellState>): { state: ShellState; effects: ShellEffect[] } => {
		const result = { ...state, ...changes };
		if (result.busy !== state.busy) effects.push({ kind: 'status', busy: result.busy });
		return { state: result, effects };
	};
	switch (action.kind) {
		case 'prompt-start':
		case 'prompt-end':
			return next({ atPrompt: true });
		case 'run-claimed':
			// Claimed before the prompt is awaited, so a second run in the meantime is told it is busy.
			return next({ run: { block: action.block, code: action.code, typed: false, started: false }, busy: true });
		case 'run-typed':
			return state.run ? next({ run: { ...state.run, typed: true } }) : next({});
		case 'run-abandoned':
			return state.run && !state.run.typed ? next({ run: null, busy: false }) : next({});
		case 'interrupt-sent':
			return state.run?.typed && !state.run.started ? next({ run: { ...state.run, interrupted: true } }) : next({});
		case 'command-line': {
			// A block is reported once, with its code, not as the lines the shell read from it.
			if (state.run?.typed) return next({});
			// Lines pasted at once run one after another before the next prompt, so one D ends them all.
			const typed = state.typedCommand === null ? action.command : `${state.typedCommand}\n${action.command}`;
			return next({ typedCommand: typed.slice(0, COMMAND_MAX_CHARS) });
		}
		case 'command-start':
			return next({ atPrompt: false, busy: true, run: state.run?.typed ? { ...state.run, started: true } : state.run });
		case 'command-end': {
			const { run, typedCommand } = state;
			if (run?.typed) {
				effects.push({ kind: 'run-done', block: run.block, code: run.code.slice(0, COMMAND_MAX_CHARS), exit: run.started ? action.exit : run.interrupted ? 130 : 0 });
			} else if (typedCommand !== null) {
				// Also when a run waits for the prompt: this is the typed command it interrupted.
				effects.push({ kind: 'typed-done', command: typedCommand, exit: action.exit });
			}
			const waiting = run !== null && !run.typed;
			// PROMPT_COMMAND runs before readline takes the terminal: not at the prompt yet. A run still
			// waiting for the prompt keeps the terminal it claimed busy.
			return next({ atPrompt: false, typedCommand: null, run: waiting ? run : null, busy: waiting });
		}
		case 'shell-exit':
			effects.push({ kind: 'shell-exit', exit: action.exit });
			return next({ exited: true });
	}
}
