/**
 * The instructor page: signs in (token → cookie), then follows the gateway's live feed
 * (`/api/instructor/events`) and keeps the roster, the board and an open live view up to date; on a
 * backend with labs of one's own, it asks for the students' labs now and then (student-labs.ts) and
 * resets them.
 */
import './zod-without-eval.ts';
import type * as z from 'zod/mini';
import { instructorApiUrl } from '../terminal/page/urls.ts';
import { progressResponse, rosterResponse, transcriptEntry, type RosterResponse, type RosterStudent } from '../class-protocol.ts';
import { broadcast, chaptersSchema, checkAccess, fetchRoster, fetchTranscript, labProfile, resetEveryLab, signIn, type Chapter } from './api.ts';
import { BoardView, runsInChapter } from './board-view.ts';
import { LiveView } from './live-view.ts';
import { RosterView } from './roster-view.ts';
import { StudentLabs } from './student-labs.ts';
import { pageTitle } from './student-state.ts';
import { onTabArrows } from './tabs.ts';

/** One of the page's own elements (instructor.astro): always there. */
const element = <T extends Element = HTMLElement>(selector: string): T => document.querySelector<T>(selector)!;

/** How often the students' labs (state, memory in use) are asked for: each answer reads every lab's cgroup. */
const LAB_REFRESH_MS = 5_000;

const chapters: Chapter[] = chaptersSchema.parse(JSON.parse(element('#podlab-chapters').textContent ?? '[]'));
const labs = new StudentLabs();
const live = new LiveView(element<HTMLDialogElement>('[data-live]'), (path) => pageTitle(path, chapters), () => void refreshLabs());
const roster = new RosterView(element<HTMLUListElement>('[data-roster]'), element('[data-roster-empty]'), chapters, (student) => live.show(student));
const board = new BoardView(element<HTMLTableElement>('[data-board]'), chapters, (student, chapter) => void showCell(student, chapter));
const feedStatus = element('[data-feed-status]');
/** The console runs once per page, however often sign-in is submitted. */
let following = false;

async function start(): Promise<void> {
	const access = await checkAccess();
	element('[data-sign-in]').hidden = access.state !== 'sign-in';
	element('[data-unavailable]').hidden = access.state !== 'unavailable';
	if (access.state === 'unavailable') {
		element('[data-unavailable]').textContent = access.message;
		return;
	}
	if (access.state === 'sign-in') {
		element<HTMLInputElement>('#instructor-token').focus();
		return;
	}
	if (following) return;
	following = true;
	const signingIn = element('[data-sign-in]').contains(document.activeElement);
	element('[data-console]').hidden = false;
	element('[data-broadcast]').hidden = false;
	showRoster(access.roster);
	// Keyboard users land on the console, not in the sign-in form that just went away.
	if (signingIn) element('#tab-roster').focus();
	const lab = await labProfile();
	board.setProfile(lab.profile);
	element('[data-shared-lab]').hidden = !lab.sharedMachine;
	element('[data-class-tools]').hidden = !lab.resettable;
	follow();
	setInterval(() => roster.refreshStates(), 15_000);
	if (lab.resettable) setInterval(() => void refreshLabs(), LAB_REFRESH_MS);
}

/** The roster with the students' labs (the feed's has none): shown at once, and kept for the feed's next rosters. */
async function refreshLabs(): Promise<void> {
	try {
		showRoster(await fetchRoster());
	} catch {
		// The feed's status line says when the gateway is away; the next refresh tries again.
	}
}

function showRoster(data: RosterResponse): void {
	// A live region: written only when it changes, or screen readers repeat it on every event.
	const seats = `${data.seats.taken} of ${data.seats.total} seats taken`;
	if (element('[data-seats]').textContent !== seats) element('[data-seats]').textContent = seats;
	labs.note(data.students);
	labs.keepOnly(new Set(data.students.map((student) => student.id)));
	const students = labs.merge(data.students);
	roster.update(students);
	board.setStudents(students);
	const open = live.student && students.find((student) => student.id === live.student!.id);
	if (open) live.update(open);
}

/** The live feed; EventSource reconnects by itself and the gateway then sends the whole state again. */
function follow(): void {
	const events = new EventSource(instructorApiUrl('events'), { withCredentials: true });
	const parse = <T>(schema: z.ZodMiniType<T>, event: MessageEvent<string>): T | null => {
		const parsed = schema.safeParse(JSON.parse(event.data));
		return parsed.success ? parsed.data : null;
	};
	events.addEventListener('open', () => {
		feedStatus.textContent = 'Live';
		feedStatus.dataset.state = 'live';
	});
	events.addEventListener('error', () => {
		feedStatus.textContent = 'Reconnecting to the gateway…';
		feedStatus.dataset.state = 'down';
		if (events.readyState !== EventSource.CLOSED) return;
		// Refused for good (not a dropped stream, which EventSource retries itself): signed out, or
		// a proxy's error page during a restart. Sign in again, or follow anew.
		void checkAccess().then((access) => {
			if (access.state !== 'signed-in') location.reload();
			else setTimeout(follow, 2_000);
		});
	});
	events.addEventListener('roster', (event) => {
		const data = parse(rosterResponse, event);
		if (data) showRoster(data);
	});
	events.addEventListener('progress', (event) => {
		const data = parse(progressResponse, event);
		if (data) board.setProgress(data.students);
	});
	events.addEventListener('run', (event) => {
		const run = parse(transcriptEntry, event);
		if (run) board.addRun(run);
	});
}

/** Which cell the commands dialog shows: an answer for an earlier one is dropped, and focus goes back to it. */
let shownCell = '';

/** A board cell: the student's commands in that chapter, newest last. */
async function showCell(student: RosterStudent, chapter: Chapter): Promise<void> {
	const cell = `${student.id}|${chapter.slug}`;
	shownCell = cell;
	const dialog = element<HTMLDialogElement>('[data-cell-dialog]');
	element('[data-cell-title]').textContent = `${student.name} · ${chapter.title}`;
	const body = element('[data-cell-body]');
	body.textContent = 'Loading…';
	dialog.showModal();
	try {
		const runs = runsInChapter(await fetchTranscript(student.id), chapter);
		if (shownCell !== cell) return;
		if (runs.length === 0) {
			body.textContent = 'Nothing run in this chapter yet.';
			return;
		}
		const table = document.createElement('table');
		table.className = 'commands';
		const head = table.createTHead().insertRow();
		for (const title of ['Time', 'Block', 'Command', 'Exit']) {
			const th = document.createElement('th');
			th.scope = 'col';
			th.textContent = title;
			head.append(th);
		}
		const rows = table.createTBody();
		for (const run of runs) {
			const row = rows.insertRow();
			row.className = run.exit === 0 ? 'ok' : 'fail';
			const command = document.createElement('code');
			command.textContent = run.command;
			row.insertCell().textContent = new Date(run.at).toLocaleTimeString();
			row.insertCell().textContent = run.block?.replace(/^.*:/, '#') ?? 'typed';
			row.insertCell().append(command);
			row.insertCell().textContent = `${run.exit === 0 ? '✓' : '✗'} ${run.exit}`;
		}
		body.replaceChildren(table);
	} catch (error) {
		if (shownCell === cell) body.textContent = `Could not load the transcript: ${(error as Error).message}`;
	}
}

// The board may have been redrawn meanwhile: focus goes back to the same cell, not to the page's start.
element('[data-cell-dialog]').addEventListener('close', () => element<HTMLElement>(`[data-cell="${CSS.escape(shownCell)}"]`)?.focus());

element('[data-cell-close]').addEventListener('click', () => element<HTMLDialogElement>('[data-cell-dialog]').close());

element('[data-sign-in-form]').addEventListener('submit', async (event) => {
	event.preventDefault();
	const form = event.currentTarget as HTMLFormElement;
	const input = form.elements.namedItem('token') as HTMLInputElement;
	const error = element('[data-sign-in-error]');
	const button = form.querySelector('button')!;
	if (button.disabled) return;
	button.disabled = true;
	error.textContent = '';
	const problem = await signIn(input.value).catch(() => 'The gateway does not answer.');
	button.disabled = false;
	if (problem) {
		error.textContent = problem;
		input.select();
		return;
	}
	input.value = '';
	await start();
});

element('[data-broadcast]').addEventListener('submit', async (event) => {
	event.preventDefault();
	const form = event.currentTarget as HTMLFormElement;
	const input = form.elements.namedItem('text') as HTMLInputElement;
	const result = element('[data-broadcast-result]');
	try {
		const delivered = await broadcast(input.value);
		result.textContent = `Sent to ${delivered} ${delivered === 1 ? 'student' : 'students'} with a terminal open.`;
		input.value = '';
	} catch (error) {
		result.textContent = (error as Error).message;
	}
});

element('[data-reset-all]').addEventListener('click', async (event) => {
	const button = event.currentTarget as HTMLButtonElement;
	const result = element('[data-reset-all-result]');
	if (button.disabled) return;
	const question =
		"Reset every student's lab? Everything in each lab — files, pods, running commands — is deleted and a fresh lab starts; their terminals reconnect to it.";
	if (!confirm(question)) return;
	button.disabled = true;
	result.textContent = 'Resetting every lab…';
	const started = performance.now();
	try {
		const results = await resetEveryLab();
		const seconds = ((performance.now() - started) / 1000).toFixed(1);
		const each = results.map((reset) => reset.ms);
		result.textContent =
			results.length === 0
				? 'No student has a seat: nothing to reset.'
				: results.length === 1
					? `Reset 1 lab in ${seconds} s.`
					: `Reset ${results.length} labs in ${seconds} s (each ${Math.min(...each)}–${Math.max(...each)} ms).`;
	} catch (error) {
		// The gateway resets one lab after another and stops at the first that fails.
		result.textContent = `Resetting every lab stopped: ${(error as Error).message} The labs reset before that are fresh.`;
	} finally {
		button.disabled = false;
		void refreshLabs();
	}
});

// Views: Students and Progress.
function selectView(tab: HTMLElement): void {
	for (const other of document.querySelectorAll<HTMLElement>('[data-view-tab]')) {
		const selected = other === tab;
		other.setAttribute('aria-selected', String(selected));
		other.tabIndex = selected ? 0 : -1;
		element(`[data-view="${other.dataset.viewTab}"]`).hidden = !selected;
	}
}
for (const tab of document.querySelectorAll<HTMLElement>('[data-view-tab]')) tab.addEventListener('click', () => selectView(tab));
onTabArrows(element('.views'), selectView);

void start();

// How many thumbnails are live: what the browser tests and bench/instructor-watch.ts wait for.
Object.assign(window, { podlabInstructor: { watching: () => roster.watching } });
