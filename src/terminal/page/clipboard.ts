/**
 * Copies text for the reader: the offline fallback of Run and the terminal's copy shortcut.
 * The async Clipboard API needs a secure context and permission; a class server on plain http://
 * at a LAN address has neither, so fall back to a selection and `execCommand('copy')`.
 *
 * @returns whether the text reached the clipboard
 */
export async function copyText(text: string): Promise<boolean> {
	try {
		await navigator.clipboard.writeText(text);
		return true;
	} catch {
		const scratch = document.createElement('textarea');
		scratch.value = text;
		scratch.setAttribute('readonly', '');
		scratch.style.cssText = 'position:fixed;opacity:0;pointer-events:none';
		const focused = document.activeElement;
		document.body.append(scratch);
		scratch.select();
		try {
			return document.execCommand('copy');
		} finally {
			scratch.remove();
			if (focused instanceof HTMLElement) focused.focus();
		}
	}
}
