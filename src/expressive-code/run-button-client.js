// @ts-check
/**
 * Browser half of the Run button, shipped by the Expressive Code plugin as a jsModule on every page
 * with code blocks (the plugin appends the call `installRunButtons({...})` with the shared names).
 *
 * It stays tiny and independent of the terminal panel: it turns a click into a cancelable event,
 * and if nothing on the page takes it (the panel's script failed to load), it copies the command so
 * the click still does something useful.
 *
 * @param {{
 *   eventName: string,
 *   attributes: { action: string, code: string, block: string, term: string, interrupt: string, until: string },
 *   statusAttribute: string,
 *   encodedNewline: string,
 * }} config
 */
function installRunButtons(config) {
	const { attributes } = config;

	/**
	 * Only the async Clipboard API: this runs when the panel (which also knows the older fallback)
	 * could not load, and then a plain message is enough.
	 * @param {string} text
	 */
	async function copy(text) {
		try {
			await navigator.clipboard.writeText(text);
			return true;
		} catch {
			return false;
		}
	}

	// One delegated listener covers blocks inside tabs and any added later.
	document.addEventListener('click', async (event) => {
		const target = event.target;
		if (!(target instanceof Element)) return;
		const button = target.closest(`button[${attributes.action}]`);
		if (!(button instanceof HTMLElement)) return;
		const code = (button.getAttribute(attributes.code) ?? '').replaceAll(config.encodedNewline, '\n');
		const detail = {
			action: button.getAttribute(attributes.action),
			code,
			block: button.getAttribute(attributes.block) ?? '',
			term: button.getAttribute(attributes.term) ?? 'main',
			interrupt: button.hasAttribute(attributes.interrupt),
			until: button.getAttribute(attributes.until) ?? undefined,
			trigger: button,
		};
		const unhandled = button.dispatchEvent(new CustomEvent(config.eventName, { bubbles: true, cancelable: true, detail }));
		if (!unhandled) return;
		const copied = await copy(code);
		const status = button.parentElement?.querySelector(`[${config.statusAttribute}]`);
		if (status) {
			status.setAttribute('data-state', 'offline');
			status.textContent = copied ? 'No terminal here — command copied' : 'No terminal here — copy the command';
		}
	});
}
