/**
 * The open panel and the page share the window instead of overlapping: room under the page (the
 * padding of Starlight's main frame and of the table of contents beside it), so that its end can
 * be read above the panel, and scroll padding on the root, so that scrolling to a block (a Run, an
 * anchor, the keyboard's focus) brings it above the panel rather than under it.
 *
 * Set as properties of those elements, not as a custom property on the root for the stylesheet to
 * read: a custom property is inherited, so changing it restyles every element of the page (657 on
 * /lab-check/, about 20 ms on the project's machine) when the panel first opens and on every step
 * of a resize; a padding restyles one element.
 */
const PAGE_PARTS = '.main-frame, .right-sidebar';

/** Makes room for a panel this many pixels high, or takes it away (`null`: the panel is closed). */
export function makeRoomForPanel(height: number | null): void {
	const padding = height === null ? '' : `${height}px`;
	document.documentElement.style.scrollPaddingBottom = height === null ? '' : `calc(${height}px + 0.75rem)`;
	for (const part of document.querySelectorAll<HTMLElement>(PAGE_PARTS)) part.style.paddingBottom = padding;
}
