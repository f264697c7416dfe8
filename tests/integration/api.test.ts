/** The small JSON API, and how the lab's env file shapes every new shell. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';

const labDir = mkdtempSync(join(tmpdir(), 'podlab-lab-'));
const envFile = join(labDir, 'lab.env');
writeFileSync(envFile, `# written by lab:setup\nCONTAINERS_CONF=/var/lib/podlab/containers.conf\nPODLAB_LAB_DIR=${labDir}\n`);

let gateway: RunningGateway;
beforeAll(async () => {
	gateway = await startGateway({ PODLAB_LAB_ENV_FILE: envFile });
});
afterAll(async () => {
	await gateway?.stop();
});

describe('GET /api', () => {
	it('health answers', async () => {
		const response = await fetch(`${gateway.url}api/health`);
		expect(response.status).toBe(200);
		expect(await response.json()).toMatchObject({ ok: true, version: expect.any(String) });
	});

	it('lab describes backend, profile and terminals', async () => {
		const lab = await (await fetch(`${gateway.url}api/lab`)).json();
		expect(lab).toMatchObject({ backend: 'local', terminals: { default: 'main', maxPerReader: 4 }, graceMs: 600_000, resettable: false });
		expect(['podman', 'kubernetes', 'none']).toContain(lab.profile);
		expect(lab.lab.checks.length).toBeGreaterThan(0);
		if (process.env.CI === 'true' || process.env.REQUIRE_LAB === '1') expect(lab).toMatchObject({ profile: 'podman', lab: { profile: 'podman', ready: true } });
	});

	it('session lists the reader’s terminals', async () => {
		const client = await TestClient.connect(gateway, { term: 'logs' });
		const session = await (await fetch(`${gateway.url}api/session`, { headers: { cookie: client.cookie } })).json();
		expect(session).toEqual({ mode: 'local', terminals: [{ name: 'logs', busy: false }] });
		client.close();
	});

	it('unknown API paths are 404 with a code', async () => {
		const response = await fetch(`${gateway.url}api/nope`);
		expect(response.status).toBe(404);
		expect(await response.json()).toEqual({ code: 'LAB_ERR_NOT_FOUND', message: 'There is nothing at this address.' });
	});
});

describe('lab shells', () => {
	it('start in the lab directory with the lab env file exported', async () => {
		const client = await TestClient.connect(gateway);
		await client.run('echo "cwd=$PWD conf=$CONTAINERS_CONF"', 'where');
		expect(client.plainText).toContain(`\ncwd=${labDir} conf=/var/lib/podlab/containers.conf\n`);
		client.close();
	});
});

describe('behind a TLS reverse proxy', () => {
	it('sends HSTS and Secure cookies only when the trusted proxy says https', async () => {
		const proxied = await startGateway({ PODLAB_TRUST_PROXY: '1' });
		try {
			const plain = await fetch(`${proxied.url}api/session`, { headers: { origin: proxied.origin } });
			expect(plain.headers.get('strict-transport-security')).toBeNull();
			expect(plain.headers.get('set-cookie')).not.toContain('Secure');
			const viaTls = await fetch(`${proxied.url}api/session`, { headers: { origin: proxied.origin, 'x-forwarded-proto': 'https' } });
			expect(viaTls.headers.get('strict-transport-security')).toBe('max-age=31536000');
			expect(viaTls.headers.get('set-cookie')).toMatch(/; Secure/);
		} finally {
			await proxied.stop();
		}
		// Without PODLAB_TRUST_PROXY the header is anyone's to send, so it changes nothing.
		const direct = await fetch(`${gateway.url}api/session`, { headers: { 'x-forwarded-proto': 'https' } });
		expect(direct.headers.get('strict-transport-security')).toBeNull();
	});
});
