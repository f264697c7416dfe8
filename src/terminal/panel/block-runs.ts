/**
 * What a terminal's runs mean for their blocks on the page: `Running…` at the click, ✓/✗ at the
 * end (remembered for the next visit), `✓ running` for a block that keeps running once its output
 * matches, and why a run did not reach the shell. The panel calls it; block-status.ts writes.
 */
import { setBlockStatus, showBlockResult } from '../page/block-status.ts';
import { copyText } from '../page/clipboard.ts';
import type { RunRequest } from '../page/run-request.ts';
import { noteResult } from '../page/saved-results.ts';
import type { TerminalRun, UndeliveredReason } from '../connection/connection-types.ts';
import { UntilWatches } from './until-watch.ts';

export class BlockRuns {
	/** Blocks that keep running (`until`), waiting for their output to match. */
	readonly #until = new UntilWatches();

	/** A block was run (or its run offered to interrupt the terminal was accepted). */
	started(request: Pick<RunRequest, 'block' | 'term' | 'until'>): void {
		setBlockStatus(request.block, 'running', 'Running…');
		if (request.until) this.#until.watch(request.term, request.block, request.until);
	}

	/** Output of terminal `term`: a block that keeps running may now count as working. */
	output(term: string, bytes: Uint8Array): void {
		if (this.#until.size === 0) return;
		for (const block of this.#until.output(term, bytes)) setBlockStatus(block, 'ok', '✓ running');
	}

	done(block: string, exit: number): void {
		this.#until.forget(block);
		showBlockResult(block, exit);
		noteResult(block, exit);
	}

	/** The gateway refused the run: its terminal is busy (the panel asks whether to interrupt). */
	refused(run: TerminalRun): void {
		setBlockStatus(run.block, 'busy', 'Terminal busy');
	}

	/** The reader left a refused run alone. */
	left(run: TerminalRun): void {
		setBlockStatus(run.block, null);
	}

	/** The runs were typed, but the socket that would bring their results is gone. */
	lost(blocks: readonly string[]): void {
		for (const block of blocks) setBlockStatus(block, 'unknown', 'Result lost — see the terminal');
	}

	/** The run never reached a shell: offline (the command is copied instead), ended, failed or closed. */
	async undelivered(run: TerminalRun, reason: UndeliveredReason): Promise<void> {
		if (reason === 'offline') {
			const copied = await copyText(run.code);
			setBlockStatus(run.block, 'offline', copied ? 'Lab offline — command copied' : 'Lab offline — copy it by hand');
		} else if (reason === 'ended') {
			setBlockStatus(run.block, 'error', 'Session ended — start a new shell');
		} else if (reason === 'failed') {
			setBlockStatus(run.block, 'error', 'Not connected');
		} else {
			setBlockStatus(run.block, null);
		}
	}
}
