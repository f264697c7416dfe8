/**
 * The page-wide event of a lab reset, dispatched on `document` at its start and end (lab-reset.ts),
 * so that every part of the page that shows the lab follows it, whichever button started it: the
 * terminal panel and the button on /lab-check/. Kept apart from the request so that a page can
 * listen without loading the protocol's checks and error table, and load the request (lab-reset.ts) only
 * when a reader confirms a reset ({@link requestLabReset}).
 */

/** The event's type; its `detail` is a {@link LabResetEvent}. */
export const LAB_RESET_EVENT = 'podlab:lab-reset';

export type LabResetEvent =
	/** The request is on its way: the reader's terminals are about to end and reconnect. */
	| { phase: 'started' }
	/** The reader has a fresh lab (`lab`, its name); the gateway took `ms`. */
	| { phase: 'done'; lab: string; ms: number }
	/** Nothing was reset; `message` says why, in the reader's words. */
	| { phase: 'failed'; message: string };

export function announceLabReset(detail: LabResetEvent): void {
	document.dispatchEvent(new CustomEvent<LabResetEvent>(LAB_RESET_EVENT, { detail }));
}

/** Calls `listener` for every reset of this page. @returns what stops listening. */
export function onLabReset(listener: (event: LabResetEvent) => void): () => void {
	const handler = (event: Event) => listener((event as CustomEvent<LabResetEvent>).detail);
	document.addEventListener(LAB_RESET_EVENT, handler);
	return () => document.removeEventListener(LAB_RESET_EVENT, handler);
}

/**
 * Loads the request and resets the reader's lab; its outcome is announced as for any reset. A request
 * module that does not load (a flaky network, a redeploy) is announced as a failed reset: nothing was
 * asked of the gateway.
 */
export async function requestLabReset(): Promise<void> {
	let resetLab: typeof import('./lab-reset.ts').resetLab;
	try {
		({ resetLab } = await import('./lab-reset.ts'));
	} catch (error) {
		console.error('[podlab] the lab reset could not be loaded:', error);
		announceLabReset({ phase: 'failed', message: 'The reset could not be loaded: reload the page and try again.' });
		return;
	}
	await resetLab();
}
