/**
 * The part of the lab tabs (lab-tabs.ts) that runs in the page's <head>, and the names it shares.
 * No imports: astro.config.mjs calls {@link labTabsHeadScript} under plain Node.
 */

/** Starlight keeps the reader's choice of synced tabs under this key (see its Tabs component). */
export const READER_CHOICE_KEY = 'starlight-synced-tabs__lab';
/** On the root element while the lab tabs wait for the gateway's answer (see the panel's styles). */
export const PENDING_ATTRIBUTE = 'data-podlab-lab-pending';
/** The longest the lab tabs are held back; the panel's styles reveal them after this even without script. */
export const PENDING_MAX_MS = 2_000;

/**
 * Runs in the page's <head>, before the tabs are parsed: with no choice of the reader's, the lab tabs
 * wait (invisible, keeping their space) for the lab. Kept to a few statements: it delays the page.
 * A function, not a constant, so that the browser bundle of lab-tabs.ts leaves it out.
 */
export function labTabsHeadScript(): string {
	return `try{if(!localStorage.getItem(${JSON.stringify(READER_CHOICE_KEY)}))document.documentElement.setAttribute(${JSON.stringify(PENDING_ATTRIBUTE)},'')}catch(e){}`;
}
