/** A terminal's size in cells: the bounds a client's size is held to. */

export const TERMINAL_SIZE = { minCols: 2, maxCols: 500, minRows: 1, maxRows: 200, cols: 80, rows: 24 } as const;

/** Terminal sizes from clients are clamped, never trusted. */
export function clampSize(size: { cols: number; rows: number }): { cols: number; rows: number } {
	const clamp = (value: number, min: number, max: number, fallback: number) =>
		Number.isFinite(value) ? Math.min(max, Math.max(min, Math.trunc(value))) : fallback;
	return {
		cols: clamp(size.cols, TERMINAL_SIZE.minCols, TERMINAL_SIZE.maxCols, TERMINAL_SIZE.cols),
		rows: clamp(size.rows, TERMINAL_SIZE.minRows, TERMINAL_SIZE.maxRows, TERMINAL_SIZE.rows),
	};
}
