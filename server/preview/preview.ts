/**
 * Lab previews, wired: the preview listener (preview-server.ts) beside the gateway's, and the site's
 * route that opens a preview (preview-open.ts). Absent when `PODLAB_PREVIEW_PORT=off` or when the
 * backend cannot reach a lab's port; the route then says so.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { LabBackend } from '../backends/backend.ts';
import type { Config } from '../config.ts';
import { servePreviewOpen } from './preview-open.ts';
import { defaultPreviewPattern, previewOrigin, type PreviewOrigin } from './preview-origin.ts';
import { sendPreviewPage } from './preview-page.ts';
import { PreviewPasses } from './preview-passes.ts';
import { createPreviewServer, type PreviewServer } from './preview-server.ts';

/** A connection of a preview with nothing moving this long is closed. */
const PREVIEW_IDLE_MS = 120_000;

export interface PreviewOptions {
	config: Config;
	backend: LabBackend;
	key: Buffer;
	/** The gateway's own port, once it listens (the default preview port is the next one). */
	gatewayPort: number;
	/** Whether `reader` (a label) may preview now: a known reader, or a student with a seat. */
	isReader(reader: string): boolean;
	/** The asking reader's label, or null without a session. */
	readerOf(req: IncomingMessage): string | null;
	/** Class mode: the student's label for the signed-in instructor's request, else null. */
	studentFor(req: IncomingMessage, student: string): string | null;
	/** What to tell a reader without a session. */
	noReader: string;
	logger: Logger;
}

export interface Previews {
	/** The previews' origin pattern, or null when there are none. */
	readonly origin: PreviewOrigin | null;
	readonly server: PreviewServer | null;
	/** `GET /api/preview`. */
	open(req: IncomingMessage, res: ServerResponse): void;
	close(): void;
}

export async function startPreviews(options: PreviewOptions): Promise<Previews> {
	const { config, backend, logger } = options;
	const openPort = backend.openPort?.bind(backend);
	const configured = config.previewPort;
	const wanted = configured !== 'off';
	if (!wanted || !openPort) {
		const why = wanted ? `The ${backend.name} backend has no lab whose web pages could be opened.` : 'Lab previews are turned off on this gateway (PODLAB_PREVIEW_PORT=off).';
		return { origin: null, server: null, open: (_req, res) => sendPreviewPage(res, 404, 'No lab previews here', why), close: () => {} };
	}
	const passes = new PreviewPasses(options.key);
	// The origin names the listener's port by default, known once it listens (port 0: any free one).
	let origin: PreviewOrigin | null = config.previewOrigin ? previewOrigin(config.previewOrigin, options.key) : null;
	const originNow = () => origin!;
	const preview = createPreviewServer({
		origin: originNow,
		passes,
		openPort,
		isReader: options.isReader,
		limits: { connectionsPerReader: config.previewConnections, bytesPerMinute: config.previewBytesPerMinute, idleMs: PREVIEW_IDLE_MS },
		logger,
	});
	const port = configured ?? (config.port === 0 ? 0 : options.gatewayPort + 1);
	await new Promise<void>((resolve, reject) => {
		preview.server.listen(port, config.host, resolve);
		preview.server.once('error', (error) =>
			reject(new Error(`cannot listen for lab previews on ${config.host}:${port}: ${error.message} (set PODLAB_PREVIEW_PORT to a free port, or to off)`, { cause: error })),
		);
	});
	const listening = (preview.server.address() as AddressInfo).port;
	origin ??= previewOrigin(defaultPreviewPattern(listening), options.key);
	return {
		origin,
		server: preview,
		open: (req, res) =>
			servePreviewOpen(req, res, { origin: originNow(), passes, readerOf: options.readerOf, studentFor: options.studentFor, noReader: options.noReader }),
		close: () => {
			preview.server.close();
			preview.server.closeAllConnections();
		},
	};
}
