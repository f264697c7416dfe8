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

/** Text for a finished block: "✓ exit 0" / "✗ exit 3". */
export function exitText(exit: number): string {
	return exit === 0 ? '✓ exit 0' : `✗ exit ${exit}`;
}
