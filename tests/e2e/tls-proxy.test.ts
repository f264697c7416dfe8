/**
 * podlab behind TLS: Debian's nginx with the example config from docs/examples/nginx-podlab.conf
 * (only the name, port, certificate and upstream changed) and a self-signed certificate, Chromium
 * through the proxy. Run works over wss://, the cookie is Secure, and HSTS is sent.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSiteIfStale } from '../../scripts/site-build.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';
import { launchChromium } from './browser.ts';
import { readableTerminals, runButton, waitForStatus, waitForTerminal } from './lab-page.ts';

const NGINX = '/usr/sbin/nginx';
const EXAMPLE = fileURLToPath(new URL('../../docs/examples/nginx-podlab.conf', import.meta.url));
const required = process.env.CI === 'true' || process.env.REQUIRE_LAB === '1';
const missing = existsSync(NGINX) ? null : `needs Debian's nginx (${NGINX}); install nginx-light`;
if (missing && !required) console.info(`skipping the TLS proxy test: ${missing}`);

let browser: Browser;
let gateway: RunningGateway;
let nginx: ChildProcess;
let origin: string;

async function freePort(): Promise<number> {
	const server = createServer();
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as { port: number };
	await new Promise((resolve) => server.close(resolve));
	return port;
}

beforeAll(async () => {
	if (missing) {
		if (required) throw new Error(`CI=true/REQUIRE_LAB=1: the TLS proxy test ${missing}`);
		return;
	}
	const dir = mkdtempSync(join(tmpdir(), 'podlab-tls-'));
	execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
	const port = await freePort();
	origin = `https://localhost:${port}`;
	await buildSiteIfStale();
	gateway = await startGateway({ PODLAB_ALLOWED_ORIGINS: origin, PODLAB_TRUST_PROXY: '1', PODLAB_WORKDIR: dir });
	const site = readFileSync(EXAMPLE, 'utf8')
		.replace('listen 443 ssl;', `listen 127.0.0.1:${port} ssl;`)
		.replace('server_name lab.example.org;', 'server_name localhost;')
		.replace('/etc/ssl/certs/lab.example.org.pem', join(dir, 'cert.pem'))
		.replace('/etc/ssl/private/lab.example.org.key', join(dir, 'key.pem'))
		.replace('http://127.0.0.1:4321', gateway.url.replace(/\/$/, ''));
	writeFileSync(
		join(dir, 'nginx.conf'),
		`daemon off;\nworker_processes 1;\npid ${join(dir, 'nginx.pid')};\nerror_log stderr;\nevents {}\nhttp {\naccess_log off;\nclient_body_temp_path ${dir};\nproxy_temp_path ${dir};\n${site}\n}\n`,
	);
	nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
	let nginxErrors = '';
	nginx.stderr!.on('data', (chunk) => (nginxErrors += chunk));
	for (let attempt = 0; ; attempt++) {
		const up = await fetch(`http://127.0.0.1:${port}/`).then(() => true, (error: Error & { cause?: { code?: string } }) => error.cause?.code !== 'ECONNREFUSED');
		if (up) break;
		if (attempt > 100 || nginx.exitCode !== null) throw new Error(`nginx did not start: ${nginxErrors}`);
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
	browser = await launchChromium(['--ignore-certificate-errors']);
});

afterAll(async () => {
	await browser?.close();
	nginx?.kill('SIGTERM');
	await gateway?.stop();
});

describe.skipIf(missing !== null && !required)('behind nginx with TLS', () => {
	it('runs a block over wss:// with a Secure cookie and HSTS', async () => {
		const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ignoreHTTPSErrors: true });
		await readableTerminals(context);
		const page = await context.newPage();
		const response = await page.goto(`${origin}/lab-check/`);
		expect(response!.headers()['strict-transport-security']).toBe('max-age=31536000');
		await runButton(page, 'lab-check:1').click();
		await waitForStatus(page, 'lab-check:1', /✓ exit 0/);
		await waitForTerminal(page, /Linux /);
		const [cookie] = await context.cookies(origin);
		expect(cookie).toMatchObject({ name: 'podlab_reader', secure: true, httpOnly: true, sameSite: 'Strict' });
		await context.close();
	});
});
