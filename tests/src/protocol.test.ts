import { describe, expect, it } from 'vitest';
import { ERRORS, LabError, parseClientMessage, serverMessage } from '../../src/protocol.ts';
// The gateway's module, which loads zod's English messages for the protocol's schemas.
import '../../server/attachment.ts';

function parseError(text: string): LabError {
	try {
		parseClientMessage(text);
	} catch (error) {
		if (error instanceof LabError) return error;
		throw error;
	}
	throw new Error(`expected ${text} to be rejected`);
}

describe('parseClientMessage', () => {
	it('accepts every client message', () => {
		expect(parseClientMessage('{"t":"attach","term":"main","since":42}')).toEqual({ t: 'attach', term: 'main', since: 42 });
		expect(parseClientMessage('{"t":"attach","term":"logs"}')).toEqual({ t: 'attach', term: 'logs', since: 0 });
		expect(parseClientMessage('{"t":"resize","cols":120,"rows":40}')).toEqual({ t: 'resize', cols: 120, rows: 40 });
		expect(parseClientMessage('{"t":"run","code":"ls -l","block":"intro-1","interrupt":true}')).toMatchObject({ interrupt: true });
		expect(parseClientMessage('{"t":"ack","bytes":65536}')).toEqual({ t: 'ack', bytes: 65536 });
		expect(parseClientMessage('{"t":"signal","name":"SIGINT"}')).toEqual({ t: 'signal', name: 'SIGINT' });
	});

	it('rejects text that is not JSON', () => {
		const error = parseError('{"t":"attach"');
		expect([error.code, error.message, error.closeCode]).toEqual(['LAB_ERR_BAD_MESSAGE', 'The message is not valid JSON.', 1007]);
	});

	it('rejects a message without a type', () => {
		const error = parseError('[1,2]');
		expect([error.code, error.message, error.closeCode]).toEqual(['LAB_ERR_BAD_MESSAGE', 'The message needs a string field "t".', 1007]);
	});

	it('rejects an unknown type with its own code', () => {
		const error = parseError('{"t":"exec","cmd":"rm -rf /"}');
		expect([error.code, error.message, error.closeCode]).toEqual(['LAB_ERR_UNKNOWN_TYPE', 'Unknown message type "exec".', 1008]);
	});

	it('names the bad field', () => {
		expect(parseError('{"t":"attach","term":"../etc"}').message).toBe(
			'Invalid "attach" message at "term": a terminal name is 1-24 of a-z, 0-9 and "-", starting with a letter.',
		);
		expect(parseError('{"t":"resize","cols":0,"rows":2}').message).toBe('Invalid "resize" message at "cols": Too small: expected number to be >=1.');
		expect(parseError('{"t":"resize","cols":1.5,"rows":2}').message).toMatch(/^Invalid "resize" message at "cols"/);
		expect(parseError('{"t":"ack","bytes":-1}').message).toMatch(/^Invalid "ack" message at "bytes"/);
		expect(parseError('{"t":"signal","name":"SIGSEGV"}').message).toMatch(/^Invalid "signal" message at "name"/);
	});

	it('rejects extra fields rather than ignoring them', () => {
		expect(parseError('{"t":"ack","bytes":1,"command":"x"}').code).toBe('LAB_ERR_BAD_MESSAGE');
	});

	it('caps the size of a run', () => {
		expect(parseError(JSON.stringify({ t: 'run', code: 'x'.repeat(60_001), block: 'b' })).message).toMatch(/at "code"/);
	});
});

describe('ERRORS', () => {
	it('gives every code an HTTP status or a close code, but the refusals that leave the socket open', () => {
		for (const [code, entry] of Object.entries(ERRORS)) {
			expect(entry.http !== null || entry.close !== null || ['LAB_ERR_BUSY', 'LAB_ERR_READ_ONLY', 'LAB_ERR_TAKEN_OVER', 'LAB_ERR_INPUT_FULL'].includes(code), code).toBe(true);
		}
	});

	it('validates what the server sends', () => {
		expect(serverMessage.safeParse({ t: 'done', block: 'b', exit: 137 }).success).toBe(true);
		expect(serverMessage.safeParse({ t: 'done', block: 'b' }).success).toBe(false);
	});
});

describe('docs/protocol.md', () => {
	it('lists every error code with its HTTP status, close code and message', async () => {
		const { readFileSync } = await import('node:fs');
		const docs = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
		for (const [code, entry] of Object.entries(ERRORS)) {
			expect(docs, code).toContain(`| \`${code}\` | ${entry.http ?? '—'} | ${entry.close ?? '—'} | ${entry.after} | ${entry.text} |`);
		}
	});
});
