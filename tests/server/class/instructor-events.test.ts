import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { InstructorEvents } from '../../../server/class/instructor-events.ts';

let server: Server | null = null;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A real HTTP server whose every request subscribes to `events`, ending at `until`. */
async function serve(events: InstructorEvents, until: () => number): Promise<string> {
	server = createServer((req, res) => events.subscribe(req, res, until()));
	await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
	return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

const snapshot = () => ({ seats: { taken: 0, total: 30 }, students: [] });

it('ends a stream when the cookie it was opened with expires', async () => {
	const events = new InstructorEvents({ roster: snapshot, progress: () => ({ students: [] }) });
	const url = await serve(events, () => Date.now() + 300);
	const started = Date.now();
	const text = await (await fetch(url)).text();
	expect(Date.now() - started).toBeGreaterThanOrEqual(250);
	expect(text).toMatch(/^retry: 2000\n\nevent: roster\ndata: \{"seats":\{"taken":0,"total":30\},"students":\[\]\}\n\nevent: progress\n/);
	events.close();
});

it('sends a changed roster to every page, and a run at once', async () => {
	let taken = 0;
	const events = new InstructorEvents({ roster: () => ({ seats: { taken, total: 30 }, students: [] }), progress: () => ({ students: [] }) });
	const url = await serve(events, () => Number.POSITIVE_INFINITY);
	const response = await fetch(url);
	const reader = response.body!.getReader();
	const decoder = new TextDecoder();
	let text = '';
	const until = async (pattern: RegExp) => {
		while (!pattern.test(text)) text += decoder.decode((await reader.read()).value);
	};
	await until(/event: progress/);
	taken = 1;
	events.rosterChanged();
	await until(/"taken":1/);
	events.run({ student: 's1', block: null, command: 'ls', term: 'main', exit: 0, at: '2026-11-26T10:00:00.000Z', page: null });
	await until(/event: run\ndata: \{"student":"s1",/);
	await reader.cancel();
	events.close();
});
