import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { AttemptLimit, sendTooMany } from '../../../server/class/attempt-limit.ts';

describe('AttemptLimit', () => {
	it('lets a key fail its allowance, then says how long it must wait', async () => {
		const limit = new AttemptLimit(2);
		expect(await limit.blockedFor('10.0.0.1')).toBe(0);
		expect(await limit.countFailure('10.0.0.1')).toBeNull();
		expect(await limit.countFailure('10.0.0.1')).toBeNull();
		const blocked = await limit.blockedFor('10.0.0.1');
		expect(blocked).toBeGreaterThan(50_000);
		expect(blocked).toBeLessThanOrEqual(60_000);
		expect(await limit.countFailure('10.0.0.1')).toBeGreaterThan(50_000);
	});

	it('counts each key apart', async () => {
		const limit = new AttemptLimit(1);
		await limit.countFailure('10.0.0.1');
		expect(await limit.blockedFor('10.0.0.1')).toBeGreaterThan(0);
		expect(await limit.blockedFor('10.0.0.2')).toBe(0);
	});
});

describe('sendTooMany', () => {
	it('answers 429 LAB_ERR_JOIN_RATE with Retry-After in whole seconds, at least one', () => {
		const sent: { status?: number; headers: Record<string, unknown>; body?: string } = { headers: {} };
		const res = {
			setHeader: (name: string, value: unknown) => void (sent.headers[name.toLowerCase()] = value),
			writeHead: (status: number, headers: Record<string, unknown> = {}) => {
				sent.status = status;
				for (const [name, value] of Object.entries(headers)) sent.headers[name.toLowerCase()] = value;
			},
			end: (body: string) => void (sent.body = body),
		} as unknown as ServerResponse;
		sendTooMany(res, 1);
		expect(sent.status).toBe(429);
		expect(sent.headers['retry-after']).toBe('1');
		expect(JSON.parse(sent.body!)).toMatchObject({ code: 'LAB_ERR_JOIN_RATE', retryAfterSeconds: 1, message: 'Too many attempts from this address: try again in 1 s.' });
	});
});
