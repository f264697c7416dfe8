/**
 * What the gateway takes from the lab's side of a terminal, which the lab's root controls (they can
 * replace tmux or the host script). tmux's own lines are far shorter: a `%output` line carries one
 * read of the pane (at most a few KiB, four bytes a byte escaped), a reply the screen and history
 * of a pane (`capture-pane`, history-limit lines).
 */
export const CONTROL_LIMITS = {
	/** Longest line, newline not counted. */
	lineBytes: 1024 * 1024,
	/** Longest reply, its lines together, and most lines in it (history-limit 5000 and a screen of at most 200 rows; server/shell/podlab-tmux.conf). */
	replyBytes: 8 * 1024 * 1024,
	replyLines: 6000,
	/** Standard error over a terminal's life (ssh's and the host script's complaints are a few lines). */
	stderrBytes: 64 * 1024,
	/** From the start of the client to tmux's first reply (the attach). */
	firstReplyMs: 20_000,
	/**
	 * From a command to its answer, counted while the gateway reads the client (a paused client
	 * cannot answer). tmux answers at once, but for the pending check, which runs a short script.
	 */
	replyMs: 20_000,
};

/** The bounds on what tmux's client writes to its stdout, which the parser keeps. */
export type ParserLimits = Pick<typeof CONTROL_LIMITS, 'lineBytes' | 'replyBytes' | 'replyLines'>;
