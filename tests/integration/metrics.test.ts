/**
 * GET /metrics: Prometheus text, only for the metrics token, and counters that match what happened.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { eventually } from '../helpers/processes.ts';

const TOKEN = 'metrics-token-0123456789abcdef';
let gateway: RunningGateway;
beforeAll(async () => {
	gateway = await startGateway({ PODLAB_METRICS_TOKEN: TOKEN });
});
afterAll(async () => {
	await gateway?.stop();
});

/** Every sample of the exposition, as "name{labels}" → value; throws on a line that is not Prometheus text. */
async function scrape(): Promise<Map<string, number>> {
	const response = await fetch(`${gateway.url}metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
	expect(response.status).toBe(200);
	expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
	const samples = new Map<string, number>();
	for (const line of (await response.text()).split('\n')) {
		if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
		// Prometheus parses NaN and Inf case-insensitively (prom-client prints "Nan").
		const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.e+-]+|nan|[+-]inf)$/i.exec(line);
		if (!match) throw new Error(`not Prometheus text: ${line}`);
		samples.set(match[1]!, Number(match[2]));
	}
	return samples;
}

describe('GET /metrics', () => {
	it('needs the metrics token', async () => {
		expect((await fetch(`${gateway.url}metrics`)).status).toBe(401);
		expect((await fetch(`${gateway.url}metrics`, { headers: { authorization: 'Bearer not-the-metrics-token' } })).status).toBe(401);
	});

	it('counts readers, terminals, bytes, runs by outcome and closes by code', async () => {
		const client = await TestClient.connect(gateway);
		expect(await client.run('true', 'ok-1')).toMatchObject({ exit: 0 });
		expect(await client.run('(exit 2)', 'fail-1')).toMatchObject({ exit: 2 });
		client.type('echo typed\r');
		await client.waitForText('\ntyped\n');
		// The echo's output comes before the shell's end-of-command marker: wait for the prompt.
		await eventually(async () => (await scrape()).get('podlab_terminals{state="idle"}') === 1, 5000, 'the shell back at its prompt');
		const during = await scrape();
		expect(during.get('podlab_readers')).toBe(1);
		expect(during.get('podlab_terminals{state="idle"}')).toBe(1);
		expect(during.get('podlab_terminals{state="busy"}')).toBe(0);
		expect(during.get('podlab_runs_total{outcome="ok"}')).toBe(1);
		expect(during.get('podlab_runs_total{outcome="fail"}')).toBe(1);
		expect(during.get('podlab_input_bytes_total')).toBe('echo typed\r'.length);
		expect(during.get('podlab_output_bytes_total')).toBe(client.received);
		expect(during.has('podlab_nodejs_eventloop_lag_seconds')).toBe(true);

		client.socket.close(4321, 'bye');
		await client.waitForClose();
		await eventually(async () => (await scrape()).get('podlab_websocket_closes_total{code="4321"}') === 1, 5000, 'the close counted');
		expect((await scrape()).get('podlab_terminals{state="detached"}')).toBe(1);
	});

	it('is not served at all without a token to read it', async () => {
		const open = await startGateway();
		try {
			expect((await fetch(`${open.url}metrics`)).status).toBe(404);
		} finally {
			await open.stop();
		}
	});
});
