/** Small HTTP helpers shared by the gateway's routes: JSON in and out, errors with their codes. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERRORS, LabError, type ErrorCode } from '../src/protocol.ts';

/** Largest request body the API reads (join forms are tiny). */
const MAX_BODY_BYTES = 4096;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
	const text = JSON.stringify(body);
	res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
	res.end(text);
}

/**
 * An error answer from the {@link ERRORS} table: its HTTP status and code, with the table's message
 * or a more precise one (which field was wrong, how long to wait), and any extra fields.
 */
export function sendError(res: ServerResponse, code: ErrorCode, message: string = ERRORS[code].text, extra: Record<string, unknown> = {}): void {
	sendJson(res, ERRORS[code].http ?? 500, { code, message, ...extra });
}

/** The request's JSON body. @throws {LabError} LAB_ERR_BAD_REQUEST when it is too large, not JSON, or not sent as JSON. */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
	if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
		throw new LabError('LAB_ERR_BAD_REQUEST', 'Send the request as application/json.');
	}
	const chunks: Buffer[] = [];
	let size = 0;
	for await (const chunk of req) {
		size += (chunk as Buffer).length;
		if (size > MAX_BODY_BYTES) throw new LabError('LAB_ERR_BAD_REQUEST', 'The request is too large.');
		chunks.push(chunk as Buffer);
	}
	try {
		return JSON.parse(Buffer.concat(chunks).toString('utf8'));
	} catch {
		throw new LabError('LAB_ERR_BAD_REQUEST', 'The request is not valid JSON.');
	}
}

/** The client's address; behind a trusted reverse proxy, the first X-Forwarded-For entry. */
export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
	const forwarded = trustProxy ? req.headers['x-forwarded-for'] : undefined;
	const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
	return first || req.socket.remoteAddress || 'unknown';
}

/** Whether the browser reached us over https (directly, or through a trusted proxy that says so). */
export function isHttps(req: IncomingMessage, trustProxy: boolean): boolean {
	if ('encrypted' in req.socket && req.socket.encrypted) return true;
	return trustProxy && req.headers['x-forwarded-proto'] === 'https';
}

/** The token of an `Authorization: Bearer <token>` header (at most 200 characters, no spaces), or null. */
export function bearerToken(req: IncomingMessage): string | null {
	return /^Bearer (\S{1,200})$/.exec(req.headers.authorization ?? '')?.[1] ?? null;
}
