/** The element of the panel's markup (TerminalPanel.astro) marked `data-panel-<name>`: the markup and the code must agree. */
export function panelPart<T extends HTMLElement>(root: HTMLElement, name: string): T {
	const element = root.querySelector<T>(`[data-panel-${name}]`);
	if (!element) throw new Error(`terminal panel: the markup has no [data-panel-${name}] element`);
	return element;
}
