/** xterm.js's own stylesheet, added to the page once, when the first terminal is opened (not before). */
import xtermCss from '@xterm/xterm/css/xterm.css?inline';

export function injectXtermStyles(): void {
	if (document.getElementById('podlab-xterm-styles')) return;
	const style = document.createElement('style');
	style.id = 'podlab-xterm-styles';
	style.textContent = xtermCss;
	document.head.append(style);
}
