/**
 * The result shown next to a block's button: running, ✓/✗ with the exit status, busy, offline.
 * The element is a polite live region (role="status"), so screen readers hear the result too.
 */
import { RUN_ATTRIBUTES, STATUS_ATTRIBUTE } from './run-request.ts';

export type BlockState = 'running' | 'ok' | 'fail' | 'busy' | 'offline' | 'error' | 'unknown';

/** The page's buttons for a block id (normally one). */
export function blockButtons(block: string): HTMLElement[] {
	return [...document.querySelectorAll<HTMLElement>(`[${RUN_ATTRIBUTES.block}="${CSS.escape(block)}"]`)];
}

/**
 * Shows a block's state. A block of another page (its run finished after navigation) is not on
 * this page: nothing happens.
 *
 * @param state `null` clears the status
 */
export function setBlockStatus(block: string, state: BlockState | null, text = ''): void {
	for (const button of blockButtons(block)) {
		const status = button.parentElement?.querySelector<HTMLElement>(`[${STATUS_ATTRIBUTE}]`);
		if (!status) continue;
		if (state) status.dataset.state = state;
		else delete status.dataset.state;
		status.textContent = state ? text : '';
	}
}

/** The exit status of a command ended by Ctrl-C (128 + SIGINT). */
const INTERRUPTED = 130;

/**
 * Did a run end well? A block that runs until the reader stops it (`until`, such as `dmesg -W`) is
 * stopped with Ctrl-C, as its chapter says: that is no failure.
 */
export function succeeded(exit: number, until: boolean): boolean {
	return exit === 0 || (until && exit === INTERRUPTED);
}

/** {@link succeeded} for a block of this page (its button says whether it has `until`). */
export function blockSucceeded(block: string, exit: number): boolean {
	return succeeded(exit, blockButtons(block).some((button) => button.hasAttribute(RUN_ATTRIBUTES.until)));
}

/** Shows how a block's run ended: "✓ exit 0", "✓ stopped (Ctrl-C)" for an `until` block, "✗ exit 3". */
export function showBlockResult(block: string, exit: number): void {
	if (!blockSucceeded(block, exit)) setBlockStatus(block, 'fail', `✗ exit ${exit}`);
	else setBlockStatus(block, 'ok', exit === 0 ? '✓ exit 0' : '✓ stopped (Ctrl-C)');
}
