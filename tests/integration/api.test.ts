/** The small JSON API, and how the lab's env file shapes every new shell. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newReader, TestClient } from '../helpers/client.ts';
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

describe('POST /api/session?start', () => {
	const start = (query: string, headers: Record<string, string>) => fetch(`${gateway.url}api/session${query}`, { method: 'POST', headers });
	const terminalsOf = async (cookie: string): Promise<string[]> =>
		((await (await fetch(`${gateway.url}api/session`, { headers: { cookie } })).json()) as { terminals: { name: string }[] }).terminals.map(({ name }) => name);
	const until = async (predicate: () => Promise<boolean>): Promise<void> => {
		for (const deadline = Date.now() + 10_000; !(await predicate()); ) {
			if (Date.now() > deadline) throw new Error('timed out');
			await new Promise((resolve) => setTimeout(resolve, 20));
		}
	};

	it('starts the shell without waiting for it; the socket that attaches then finds it running', async () => {
		const response = await start('?start=logs', { origin: gateway.origin });
		expect(response.status).toBe(200);
		// Answered at once: the shell was not running yet.
		expect(await response.json()).toEqual({ mode: 'local', terminals: [] });
		const cookie = response.headers.get('set-cookie')!.split(';')[0]!;
		await until(async () => (await terminalsOf(cookie)).includes('logs'));
		const client = await TestClient.connect(gateway, { cookie, term: 'logs' });
		expect(client.messages[0]).toMatchObject({ t: 'ready', term: 'logs', offset: 0, created: false });
		await client.run('echo "started=$((6 * 7))"', 'pre-started');
		expect(client.plainText).toContain('\nstarted=42\n');
		client.close();
	});

	it('starts nothing for a request that does not show it comes from the site’s page, cookie or not', async () => {
		const cookie = await newReader(gateway);
		for (const headers of [{ cookie }, { cookie, origin: 'https://evil.example' }, { cookie, 'sec-fetch-site': 'same-site' }] as Record<string, string>[]) {
			const response = await start('?start=main', headers);
			expect(response.status, JSON.stringify(headers)).toBe(403);
			expect(await response.json()).toMatchObject({ code: 'LAB_ERR_ORIGIN' });
		}
		await new Promise((resolve) => setTimeout(resolve, 300));
		expect(await terminalsOf(cookie)).toEqual([]);
	});

	it('refuses a malformed start with 400 and starts nothing', async () => {
		const cookie = await newReader(gateway);
		const own = { cookie, origin: gateway.origin };
		for (const query of ['', '?start=', '?start=Main', '?start=a%2F..', `?start=${'a'.repeat(25)}`, '?start=a&start=b']) {
			const response = await start(query, own);
			expect(response.status, query).toBe(400);
			expect(await response.json()).toMatchObject({ code: 'LAB_ERR_BAD_REQUEST', message: expect.stringContaining('POST /api/session?start=<name>') });
		}
		expect((await fetch(`${gateway.url}api/session?start=main`, { headers: own })).status).toBe(400);
		await new Promise((resolve) => setTimeout(resolve, 300));
		expect(await terminalsOf(cookie)).toEqual([]);
	});

	it('counts against the reader’s terminal limit', async () => {
		const cookie = await newReader(gateway);
		for (const name of ['one', 'two', 'three', 'four', 'five']) expect((await start(`?start=${name}`, { cookie, origin: gateway.origin })).status).toBe(200);
		await until(async () => (await terminalsOf(cookie)).length === 4);
		await new Promise((resolve) => setTimeout(resolve, 300));
		expect((await terminalsOf(cookie)).sort()).toEqual(['four', 'one', 'three', 'two']);
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
