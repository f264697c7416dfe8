/**
 * The contract between a block's Run button (rendered at build time by the Expressive Code plugin,
 * clicked in the browser by its small jsModule) and the terminal panel that carries out the run.
 * Constants only: imported by the build-time plugin and by browser code alike.
 */

/** Dispatched (bubbling, cancelable) on the clicked button; the panel cancels it to say "mine". */
export const RUN_EVENT = 'podlab:run';

/** The data attributes a button carries. Values are plain strings; newlines in code are encoded. */
export const RUN_ATTRIBUTES = {
	/** "run" or "write"; its presence marks a podlab button. */
	action: 'data-podlab-run',
	code: 'data-podlab-code',
	block: 'data-podlab-block',
	term: 'data-podlab-term',
	/** Present when the block asks for Ctrl-C first. */
	interrupt: 'data-podlab-interrupt',
	/** A block that keeps running (`until="regex"`): its output matching the regex counts as ✓. */
	until: 'data-podlab-until',
} as const;

/** Marks the element that shows a block's result (✓/✗, running, offline). */
export const STATUS_ATTRIBUTE = 'data-podlab-status';

/**
 * Newlines are stored as U+007F in the code attribute, as Expressive Code does for its copy button,
 * because HTML minifiers may normalise whitespace inside attribute values.
 */
export const ENCODED_NEWLINE = '\u007f';

export type RunAction = 'run' | 'write';

/** The `detail` of a {@link RUN_EVENT}. */
export interface RunRequest {
	action: RunAction;
	/** The exact text typed into the shell (for "write", the heredoc that creates the file). */
	code: string;
	/** Stable id of the block ("lab-check:3"), echoed back by the gateway in `done`. */
	block: string;
	term: string;
	/** Send Ctrl-C first if the terminal is busy. */
	interrupt: boolean;
	/** For a block that keeps running (`dmesg -W`): a regular expression its output matches once it works. */
	until?: string;
	/** The button that asked, so focus can return to it. */
	trigger: HTMLElement | null;
}
