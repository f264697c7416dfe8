/**
 * The instructor page: signs in (token → cookie), then follows the gateway's live feed
 * (`/api/instructor/events`) and keeps the roster, the board and an open live view up to date.
 */
import '../terminal/zod-without-eval.ts';
import type { z } from 'zod';
import { broadcast, chaptersSchema, checkAccess, fetchTranscript, instructorUrl, labProfile, progressSchema, rosterSchema, runSchema, signIn, type Chapter, type Roster, type Student } from './api.ts';
import { BoardView, runsInChapter } from './board-view.ts';
import { LiveView } from './live-view.ts';
import { RosterView } from './roster-view.ts';
import { pageTitle } from './student-state.ts';

const $ = <T extends Element = HTMLElement>(selector: string): T => document.querySelector<T>(selector)!;

const chapters: Chapter[] = chaptersSchema.parse(JSON.parse($('#podlab-chapters').textContent ?? '[]'));
const live = new LiveView($<HTMLDialogElement>('[data-live]'), (path) => pageTitle(path, chapters));
const roster = new RosterView($<HTMLUListElement>('[data-roster]'), $('[data-roster-empty]'), chapters, (student) => live.show(student));
const board = new BoardView($<HTMLTableElement>('[data-board]'), chapters, (student, chapter) => void showCell(student, chapter));
const feedStatus = $('[data-feed-status]');

async function start(): Promise<void> {
	const access = await checkAccess();
	$('[data-sign-in]').hidden = access.state !== 'sign-in';
	$('[data-unavailable]').hidden = access.state !== 'unavailable';
	if (access.state === 'unavailable') {
		$('[data-unavailable]').textContent = access.message;
		return;
	}
	if (access.state === 'sign-in') {
		$<HTMLInputElement>('#instructor-token').focus();
		return;
	}
	$('[data-console]').hidden = false;
	$('[data-broadcast]').hidden = false;
	showRoster(access.roster);
	board.setProfile(await labProfile());
	follow();
	setInterval(() => roster.refreshStates(), 15_000);
}

function showRoster(data: Roster): void {
	$('[data-seats]').textContent = `${data.seats.taken} of ${data.seats.total} seats taken`;
	roster.update(data.students);
	board.setStudents(data.students);
	const open = live.student && data.students.find((student) => student.id === live.student!.id);
	if (open) live.update(open);
}

/** The live feed; EventSource reconnects by itself and the gateway then sends the whole state again. */
function follow(): void {
	const events = new EventSource(instructorUrl('events'), { withCredentials: true });
	const parse = <T>(schema: z.ZodType<T>, event: MessageEvent<string>): T | null => {
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
		// A stream refused for good (the cookie expired, the class ended): find out why.
		if (events.readyState === EventSource.CLOSED) void checkAccess().then((access) => access.state !== 'signed-in' && location.reload());
	});
	events.addEventListener('roster', (event) => {
		const data = parse(rosterSchema, event);
		if (data) showRoster(data);
	});
	events.addEventListener('progress', (event) => {
		const data = parse(progressSchema, event);
		if (data) board.setProgress(data.students);
	});
	events.addEventListener('run', (event) => {
		const run = parse(runSchema, event);
		if (run) board.addRun(run);
	});
}

/** A board cell: the student's commands in that chapter, newest last. */
async function showCell(student: Student, chapter: Chapter): Promise<void> {
	const dialog = $<HTMLDialogElement>('[data-cell-dialog]');
	$('[data-cell-title]').textContent = `${student.name} · ${chapter.title}`;
	const body = $('[data-cell-body]');
	body.textContent = 'Loading…';
	dialog.showModal();
	try {
		const runs = runsInChapter(await fetchTranscript(student.id), chapter);
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
			command.textContent = run.command ?? '';
			row.insertCell().textContent = new Date(run.at).toLocaleTimeString();
			row.insertCell().textContent = run.block?.replace(/^.*:/, '#') ?? 'typed';
			row.insertCell().append(command);
			row.insertCell().textContent = `${run.exit === 0 ? '✓' : '✗'} ${run.exit}`;
		}
		body.replaceChildren(table);
	} catch (error) {
		body.textContent = `Could not load the transcript: ${(error as Error).message}`;
	}
}

$('[data-cell-close]').addEventListener('click', () => $<HTMLDialogElement>('[data-cell-dialog]').close());

$('[data-sign-in-form]').addEventListener('submit', async (event) => {
	event.preventDefault();
	const form = event.currentTarget as HTMLFormElement;
	const input = form.elements.namedItem('token') as HTMLInputElement;
	const error = $('[data-sign-in-error]');
	error.textContent = '';
	const problem = await signIn(input.value).catch(() => 'The gateway does not answer.');
	if (problem) {
		error.textContent = problem;
		input.select();
		return;
	}
	input.value = '';
	await start();
});

$('[data-broadcast]').addEventListener('submit', async (event) => {
	event.preventDefault();
	const form = event.currentTarget as HTMLFormElement;
	const input = form.elements.namedItem('text') as HTMLInputElement;
	const result = $('[data-broadcast-result]');
	try {
		const delivered = await broadcast(input.value);
		result.textContent = `Sent to ${delivered} ${delivered === 1 ? 'student' : 'students'} with a terminal open.`;
		input.value = '';
	} catch (error) {
		result.textContent = (error as Error).message;
	}
});

// Views: a tab list with arrow keys, as WAI-ARIA's tabs pattern describes.
const viewTabs = [...document.querySelectorAll<HTMLButtonElement>('[data-view-tab]')];
function selectView(tab: HTMLButtonElement): void {
	for (const other of viewTabs) {
		const selected = other === tab;
		other.setAttribute('aria-selected', String(selected));
		other.tabIndex = selected ? 0 : -1;
		$(`[data-view="${other.dataset.viewTab}"]`).hidden = !selected;
	}
}
for (const [index, tab] of viewTabs.entries()) {
	tab.addEventListener('click', () => selectView(tab));
	tab.addEventListener('keydown', (event) => {
		if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
		const next = viewTabs[(index + (event.key === 'ArrowRight' ? 1 : viewTabs.length - 1)) % viewTabs.length]!;
		selectView(next);
		next.focus();
	});
}

void start();

// For the browser tests and the benchmark: how many thumbnails are live.
Object.assign(window, { podlabInstructor: { watching: () => roster.watching } });
