import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createMetricsAuth } from '../../../server/http/metrics-auth.ts';

const METRICS_TOKEN = 'metrics-token-0123456789';
const INSTRUCTOR_TOKEN = 'instructor-token-0123456789';
const request = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } }) as IncomingMessage;
const isInstructor = async (req: IncomingMessage) => req.headers.authorization === `Bearer ${INSTRUCTOR_TOKEN}`;

describe('createMetricsAuth', () => {
	it('has no metrics to give when neither a metrics token nor an instructor is configured', async () => {
		const access = createMetricsAuth({ token: null, isInstructor: null });
		expect(await access(request(`Bearer ${METRICS_TOKEN}`))).toBe('absent');
		expect(await access(request())).toBe('absent');
	});

	it('allows the metrics token and refuses any other, a longer or shorter one too', async () => {
		const access = createMetricsAuth({ token: METRICS_TOKEN, isInstructor: null });
		expect(await access(request(`Bearer ${METRICS_TOKEN}`))).toBe('allowed');
		for (const authorization of [undefined, '', `Bearer ${METRICS_TOKEN}x`, `Bearer ${METRICS_TOKEN.slice(1)}`, `Basic ${METRICS_TOKEN}`, METRICS_TOKEN]) {
			expect(await access(request(authorization)), String(authorization)).toBe('refused');
		}
	});

	it('allows the instructor in class mode, with or without a metrics token', async () => {
		for (const token of [null, METRICS_TOKEN]) {
			const access = createMetricsAuth({ token, isInstructor });
			expect(await access(request(`Bearer ${INSTRUCTOR_TOKEN}`))).toBe('allowed');
			expect(await access(request('Bearer someone-else-0123456789'))).toBe('refused');
			expect(await access(request())).toBe('refused');
		}
	});

	it('does not ask the instructor check when the metrics token already allows the request', async () => {
		let asked = 0;
		const access = createMetricsAuth({ token: METRICS_TOKEN, isInstructor: async () => (asked++, false) });
		expect(await access(request(`Bearer ${METRICS_TOKEN}`))).toBe('allowed');
		expect(asked).toBe(0);
	});
});
