/**
 * The chapters' lab tabs (`<Tabs syncKey="lab">`: podman / kubernetes) show the lab the gateway has
 * before the reader picks a block, so that the first Run on a podman lab is a podman command.
 *
 * - The reader's own choice wins: clicking a tab makes Starlight switch every synced tab and keep
 *   the label in localStorage ({@link READER_CHOICE_KEY}). podlab never writes that key.
 * - Otherwise the gateway's answer (`GET /api/lab`), kept in localStorage for the next page, selects
 *   the tabs. On a page without an answer yet (the very first one), {@link labTabsHeadScript} has
 *   the lab tabs held invisible until it comes, or for at most {@link PENDING_MAX_MS}.
 * - A static host without a gateway keeps Starlight's default (the first tab).
 *
 * Part of every page's small bootstrap: no zod, no protocol module.
 */
import { PENDING_ATTRIBUTE, PENDING_MAX_MS, READER_CHOICE_KEY } from './lab-tabs-head.ts';
import { LAB_PROFILES, type LabProfile } from '../../lab-profiles.ts';
import { getLab } from './urls.ts';

/** What the gateway last said the lab is. */
const LAB_PROFILE_KEY = 'podlab:lab-profile';


/** What the page needs from `GET /api/lab` before any terminal is loaded. */
export interface LabAnswer {
	profile: LabProfile | 'none' | null;
	/** How long a shell lives on with no browser attached. */
	graceMs: number | null;
}

function readStorage(key: string): string | null {
	try {
		return localStorage.getItem(key);
	} catch {
		return null;
	}
}

function isProfile(value: unknown): value is LabProfile {
	return (LAB_PROFILES as readonly unknown[]).includes(value);
}

/** The lab tabs are settled: shown as they are. */
function settle(): void {
	document.documentElement.removeAttribute(PENDING_ATTRIBUTE);
}

/**
 * Selects the tab labelled `profile` in every lab tab set of the page, unless the reader chose one.
 * Done the way Starlight's own restore script does it (attributes only): a click would move focus,
 * scroll the page, and be remembered as the reader's choice.
 */
export function showLabTabs(profile: LabProfile): void {
	if (readStorage(READER_CHOICE_KEY) !== null) return;
	for (const tabs of document.querySelectorAll<HTMLElement>('starlight-tabs[data-sync-key="lab"]')) {
		const tabList = [...tabs.querySelectorAll<HTMLElement>('[role="tab"]')];
		const panels = [...tabs.querySelectorAll<HTMLElement>(':scope > [role="tabpanel"]')];
		const index = tabList.findIndex((tab) => tab.textContent?.trim() === profile);
		if (index < 0 || !panels[index]) continue;
		tabList.forEach((tab, position) => {
			const selected = position === index;
			tab.setAttribute('aria-selected', String(selected));
			if (selected) tab.removeAttribute('tabindex');
			else tab.setAttribute('tabindex', '-1');
		});
		panels.forEach((panel, position) => (panel.hidden = position !== index));
	}
}

/** Remembers the gateway's answer for the next page, and shows its tabs on this one. */
export function useLabProfile(profile: unknown): void {
	if (!isProfile(profile)) return;
	try {
		localStorage.setItem(LAB_PROFILE_KEY, profile);
	} catch {
		// Not remembered: the next page asks again.
	}
	showLabTabs(profile);
}

/** The lab the reader reads for: their own tab choice, else the gateway's last answer. */
export function readingProfile(): LabProfile | null {
	const chosen = readStorage(READER_CHOICE_KEY);
	if (isProfile(chosen)) return chosen;
	const remembered = readStorage(LAB_PROFILE_KEY);
	return isProfile(remembered) ? remembered : null;
}

/**
 * At page load: shows the remembered lab's tabs at once, asks the gateway which lab it is, and
 * settles the tabs. Resolves to the answer, or null when no gateway answers (a static host).
 */
export async function learnLab(): Promise<LabAnswer | null> {
	const remembered = readStorage(LAB_PROFILE_KEY);
	if (isProfile(remembered)) {
		showLabTabs(remembered);
		settle();
	}
	try {
		const body = await getLab(PENDING_MAX_MS);
		if (typeof body !== 'object' || body === null) return null;
		const { profile, graceMs } = body as Record<string, unknown>;
		useLabProfile(profile);
		return {
			profile: isProfile(profile) || profile === 'none' ? profile : null,
			graceMs: typeof graceMs === 'number' && graceMs > 0 ? graceMs : null,
		};
	} finally {
		settle();
	}
}
