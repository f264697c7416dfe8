/**
 * Arrow keys across a tab list, as WAI-ARIA's tabs pattern has it: Left and Right move to the
 * neighbouring tab (wrapping round) and select it; Tab leaves the list.
 */
export function onTabArrows(tablist: HTMLElement, select: (tab: HTMLElement) => void): void {
	tablist.addEventListener('keydown', (event) => {
		if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
		const tabs = [...tablist.querySelectorAll<HTMLElement>('[role="tab"]')];
		const index = tabs.indexOf(event.target as HTMLElement);
		if (index < 0) return;
		const next = tabs[(index + (event.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length]!;
		event.preventDefault();
		select(next);
		next.focus();
	});
}
