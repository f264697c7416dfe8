/**
 * Part of every page's small script (TerminalPanel.astro), a few lines: an exercise is at a chapter's
 * end, so its behaviour (exercise-element.ts: hints one at a time, the Check button) loads once the
 * reader has it on screen — a chapter's first Run, near its top, does not load it. Until then its
 * hints and solution are the plain `<details>` they are without JavaScript.
 */
const onScreen = new IntersectionObserver((entries) => {
	if (!entries.some((entry) => entry.isIntersecting)) return;
	onScreen.disconnect();
	void import('./exercise-element.ts');
});
for (const exercise of document.querySelectorAll('podlab-exercise')) onScreen.observe(exercise);
