/**
 * `GET /api/preview?port=N[&path=/…][&student=ID]` on the site: the reader's link into their lab's
 * preview. It answers with a redirect to the preview's own origin carrying a one-use entry link
 * (preview-passes.ts), so the site's cookies (HttpOnly, SameSite=Strict) identify the reader and
 * nothing of the site goes to the preview. The instructor (class mode, signed in) opens a student's
 * with `student=`. A link, not a script: "Open in browser" costs a page no JavaScript.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PreviewOrigin } from './preview-origin.ts';
import { sendPreviewPage } from './preview-page.ts';
import { ENTRY_PATH, type PreviewPasses } from './preview-passes.ts';

export interface PreviewOpenOptions {
	origin: PreviewOrigin;
	passes: PreviewPasses;
	/** The asking reader's label (their own lab), or null without a session. */
	readerOf(req: IncomingMessage): string | null;
	/** Class mode: the student's label when the request is the signed-in instructor's and `student` has a seat; null otherwise. */
	studentFor(req: IncomingMessage, student: string): string | null;
	/** What to tell a reader without a session: run a block (local mode) or join (class mode). */
	noReader: string;
}

export function servePreviewOpen(req: IncomingMessage, res: ServerResponse, options: PreviewOpenOptions): void {
	const url = new URL(req.url ?? '/', 'http://gateway');
	const portText = url.searchParams.get('port') ?? '';
	const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
	if (!(port >= 1 && port <= 65_535)) return sendPreviewPage(res, 400, 'Which port?', 'Give the port your lab’s server listens on, e.g. /api/preview?port=8080.');
	const student = url.searchParams.get('student');
	const reader = student === null ? options.readerOf(req) : options.studentFor(req, student);
	if (!reader) return sendPreviewPage(res, 403, student === null ? 'No lab yet' : 'Not your student’s lab', student === null ? options.noReader : 'Sign in as the instructor, and name a student who has a seat.');
	const path = url.searchParams.get('path') ?? '/';
	const label = options.origin.labelFor(reader, port);
	const entry = new URL(ENTRY_PATH, options.origin.originOf(label));
	entry.searchParams.set('token', options.passes.entry({ reader, port }));
	entry.searchParams.set('to', path);
	res.writeHead(303, { Location: entry.href, 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' });
	res.end();
}
