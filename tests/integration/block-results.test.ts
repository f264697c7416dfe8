/** `GET /api/results`: the reader's last result per block, from the runs the gateway saw. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockResultsResponse } from '../../src/protocol.ts';
import { TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';

let gateway: RunningGateway;
beforeAll(async () => {
	gateway = await startGateway();
});
afterAll(async () => {
	await gateway?.stop();
});

const results = async (cookie?: string) => {
	const response = await fetch(`${gateway.url}api/results`, { headers: cookie ? { cookie } : {} });
	expect(response.status).toBe(200);
	expect(response.headers.get('cache-control')).toBe('no-store');
	expect(response.headers.get('set-cookie')).toBeNull();
	return blockResultsResponse.parse(await response.json()).blocks;
};

describe('GET /api/results', () => {
	it('gives each block’s last exit status to its reader only', async () => {
		const client = await TestClient.connect(gateway);
		await client.run('false', 'chapters/pause:3');
		await client.run('true', 'chapters/pause:3');
		await client.run('exit_with() { return "$1"; }; exit_with 3', 'lab-check:5');
		// A command the reader typed is not a block.
		client.type('echo typed\r');
		await client.waitFor(() => client.plainText.includes('\ntyped\n'), 5_000, 'typed output');
		const mine = await results(client.cookie);
		expect(mine).toEqual({
			'chapters/pause:3': { exit: 0, at: expect.any(String) },
			'lab-check:5': { exit: 3, at: expect.any(String) },
		});
		const other = await TestClient.connect(gateway);
		expect(await results(other.cookie)).toEqual({});
		client.close();
		other.close();
	});

	it('answers a request without a reader with nothing, and issues no reader', async () => {
		expect(await results()).toEqual({});
	});
});
