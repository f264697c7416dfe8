/**
 * Styles of the Run / Write to lab toolbar. Expressive Code scopes them to its blocks.
 *
 * The toolbar sits in the block's title bar (terminal frames and titled blocks have one), right
 * where the eye goes for block actions; blocks without a title bar (`frame="none"`) get it as a row
 * under the code. Colours come from Starlight's theme variables, so they follow light/dark mode.
 */
import type { ResolverContext } from '@astrojs/starlight/expressive-code';

export function runButtonStyles({ cssVar }: ResolverContext): string {
	return `
	.podlab-run {
		display: flex;
		align-items: center;
		justify-content: flex-end;
		gap: 0.5rem;
		padding-block-start: 0.4rem;
		direction: ltr;

		@media (scripting: none) {
			display: none;
		}
		@media print {
			display: none;
		}
	}

	/* In the title bar: as tall as it, at its end; the header's --button-spacing is its height plus 0.4rem. */
	.frame.is-terminal > .podlab-run,
	.frame.has-title > .podlab-run {
		position: absolute;
		z-index: 2;
		inset-block-start: 0;
		inset-inline-end: calc(${cssVar('uiPaddingInline')} / 2);
		height: calc(var(--button-spacing) - 0.4rem);
		padding: 0;
	}

	/* Keep a long title clear of the toolbar. */
	.frame.has-title:has(> .podlab-run) > .header {
		padding-inline-end: 9rem;
	}

	.podlab-run-button {
		display: inline-flex;
		align-items: center;
		gap: 0.35rem;
		margin: 0;
		padding: 0.1rem 0.65rem;
		border: 1px solid transparent;
		border-radius: 999rem;
		font-family: var(--__sl-font, system-ui, sans-serif);
		font-size: 0.8rem;
		font-weight: 600;
		line-height: 1.4;
		color: var(--sl-color-black, #fff);
		background: var(--sl-color-text-accent, #3451b2);
		cursor: pointer;

		&:hover {
			color: var(--sl-color-black, #fff);
			background: var(--sl-color-white, #111);
		}
		&:focus-visible {
			outline: 2px solid var(--sl-color-text-accent, #3451b2);
			outline-offset: 2px;
		}
		&:disabled {
			cursor: progress;
			opacity: 0.7;
		}
		svg {
			flex: none;
		}
	}

	/* Secondary to Run: an outlined pill, a link (it opens the lab's page in a new tab). */
	.podlab-open-link {
		display: inline-flex;
		align-items: center;
		padding: 0.05rem 0.6rem;
		border: 1px solid var(--sl-color-text-accent, #3451b2);
		border-radius: 999rem;
		font-family: var(--__sl-font, system-ui, sans-serif);
		font-size: 0.8rem;
		font-weight: 600;
		line-height: 1.4;
		white-space: nowrap;
		color: var(--sl-color-text-accent, #3451b2);
		text-decoration: none;

		&:hover {
			color: var(--sl-color-black, #fff);
			background: var(--sl-color-text-accent, #3451b2);
		}
		&:focus-visible {
			outline: 2px solid var(--sl-color-text-accent, #3451b2);
			outline-offset: 2px;
		}
	}

	.podlab-run-status {
		font-family: var(--__sl-font, system-ui, sans-serif);
		font-size: 0.8rem;
		white-space: nowrap;
		color: ${cssVar('frames.terminalTitlebarForeground')};

		&:empty {
			display: none;
		}
		&[data-state='ok'] {
			color: var(--sl-color-green-high, #1a7f37);
		}
		&[data-state='fail'],
		&[data-state='error'] {
			color: var(--sl-color-red-high, #cf222e);
		}
	}

	/*
	 * Touch screens: Run and Copy are 44×44 CSS px targets (WCAG 2.5.5), and Copy leaves the code
	 * alone. Expressive Code puts it over the first lines; here it goes into the title bar, beside
	 * Run (the bar grows to hold them), or, in a block without a title bar, into a strip above the
	 * code.
	 */
	@media (pointer: coarse) {
		.frame {
			--podlab-touch: 44px;
			--podlab-bar: calc(var(--podlab-touch) + 0.5rem);
		}
		.frame.is-terminal,
		.frame.has-title {
			--button-spacing: calc(var(--podlab-bar) + 0.4rem);
		}
		.frame.is-terminal > .header,
		.frame.has-title > .header {
			box-sizing: border-box;
			min-height: var(--podlab-bar);
		}
		.frame:not(.is-terminal):not(.has-title) > pre {
			padding-block-start: var(--podlab-bar);
		}
		.frame > .copy {
			inset-block-start: calc((var(--podlab-bar) - var(--podlab-touch)) / 2);
		}
		.frame > .copy button {
			width: var(--podlab-touch);
			height: var(--podlab-touch);
		}
		/* Nothing is over the first line any more: it needs no room kept at its end. */
		:nth-child(1 of .ec-line) .code {
			padding-inline-end: ${cssVar('codePaddingInline')};
		}
		.frame.is-terminal > .podlab-run,
		.frame.has-title > .podlab-run {
			inset-inline-end: calc(${cssVar('uiPaddingInline')} / 2 + var(--podlab-touch) + 0.5rem);
		}
		.frame.has-title:has(> .podlab-run) > .header {
			padding-inline-end: 14rem;
		}
		.podlab-run-button {
			min-width: var(--podlab-touch);
			min-height: var(--podlab-touch);
			padding-inline: 1rem;
			justify-content: center;
		}
	}
	`;
}
