/**
 * The panel's resize handle: drag it, or focus it and use the arrow keys (Home/End for the smallest
 * and largest size, as in the WAI-ARIA window splitter pattern). It is a focusable
 * `role="separator"` whose value is the panel's height in pixels.
 */

/** Smallest useful terminal: a few lines plus the tab bar. */
export const MIN_PANEL_HEIGHT = 140;
/** Leave the page's header and a little of the page visible. */
const MAX_VIEWPORT_FRACTION = 0.85;
const KEYBOARD_STEP = 40;

export function clampPanelHeight(height: number, viewportHeight: number): number {
	const max = Math.max(MIN_PANEL_HEIGHT, Math.floor(viewportHeight * MAX_VIEWPORT_FRACTION));
	return Math.round(Math.min(max, Math.max(MIN_PANEL_HEIGHT, height)));
}

/**
 * @param handle the separator element
 * @param height the current height
 * @param apply sets a new height (already clamped); `done` is true when the gesture ended (save it)
 */
export function attachPanelResize(
	handle: HTMLElement,
	height: () => number,
	apply: (height: number, done: boolean) => void,
): void {
	const set = (value: number, done: boolean) => {
		const clamped = clampPanelHeight(value, window.innerHeight);
		handle.setAttribute('aria-valuenow', String(clamped));
		handle.setAttribute('aria-valuemax', String(clampPanelHeight(Infinity, window.innerHeight)));
		apply(clamped, done);
	};

	handle.setAttribute('aria-valuemin', String(MIN_PANEL_HEIGHT));
	set(height(), false);

	handle.addEventListener('pointerdown', (down) => {
		if (down.button !== 0) return;
		down.preventDefault();
		handle.setPointerCapture(down.pointerId);
		const startY = down.clientY;
		const startHeight = height();
		const move = (event: PointerEvent) => set(startHeight + (startY - event.clientY), false);
		const up = (event: PointerEvent) => {
			handle.removeEventListener('pointermove', move);
			handle.removeEventListener('pointerup', up);
			handle.removeEventListener('pointercancel', up);
			set(startHeight + (startY - event.clientY), true);
		};
		handle.addEventListener('pointermove', move);
		handle.addEventListener('pointerup', up);
		handle.addEventListener('pointercancel', up);
	});

	handle.addEventListener('keydown', (event) => {
		const steps: Record<string, number> = { ArrowUp: KEYBOARD_STEP, ArrowDown: -KEYBOARD_STEP, Home: -Infinity, End: Infinity };
		const step = steps[event.key];
		if (step === undefined) return;
		event.preventDefault();
		set(height() + step, true);
	});

	window.addEventListener('resize', () => set(height(), false));
}
