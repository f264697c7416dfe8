/**
 * Local mode across a gateway restart: a reader's cookie still works (the same reader, not "load the
 * page again"), and a cookie that was not issued by the gateway's key does not.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { newReader, TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';

const gateways: RunningGateway[] = [];
afterEach(async () => {
	for (const gateway of gateways.splice(0)) await gateway.stop();
});

async function gatewayWith(stateDir: string): Promise<RunningGateway> {
	const gateway = await startGateway({ PODLAB_STATE_DIR: stateDir });
	gateways.push(gateway);
	return gateway;
}

describe('a local reader across a restart', () => {
	it('keeps their session: the same cookie attaches again, and the panel gets a shell', async () => {
		const stateDir = mkdtempSync(join(tmpdir(), 'podlab-state-'));
		const first = await gatewayWith(stateDir);
		const cookie = await newReader(first);
		const before = await TestClient.connect(first, { cookie });
		expect(await before.run('echo before', 'before')).toMatchObject({ exit: 0 });
		before.close();
		await first.stop();

		const second = await gatewayWith(stateDir);
		const after = await TestClient.connect(second, { cookie });
		expect(after.messages[0]).toMatchObject({ t: 'ready', term: 'main' });
		expect(await after.run('echo after', 'after')).toMatchObject({ exit: 0 });
		const session = await (await fetch(`${second.url}api/session`, { headers: { cookie, origin: second.origin } })).json();
		expect(session.terminals).toEqual([{ name: 'main', busy: false }]);
		after.close();
	});

	it('refuses a cookie whose signature is not the gateway’s', async () => {
		const gateway = await gatewayWith(mkdtempSync(join(tmpdir(), 'podlab-state-')));
		const cookie = await newReader(gateway);
		const [name, value] = cookie.split('=') as [string, string];
		const [id] = value.split('.');
		const forged = `${name}=${id}.${'A'.repeat(32)}`;
		await expect(TestClient.connect(gateway, { cookie: forged })).rejects.toThrow(/upgrade refused: 401/);
		await expect(TestClient.connect(gateway, { cookie: `${name}=${id}` })).rejects.toThrow(/upgrade refused: 401/);
	});
});
