/**
 * The site as the gateway serves it from disk: each page's CSP follows its current inline scripts,
 * files that vanish (a rebuild under a running gateway) are a 404, never a crash, and what a browser
 * accepts compressed is sent compressed.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { get, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { precompressSite } from '../../scripts/precompress.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';

const site = mkdtempSync(join(tmpdir(), 'podlab-site-'));
const page = (script: string) => `<!doctype html><title>t</title><script>${script}</script><script src="/app.js"></script>`;
const hash = (script: string) => `'sha256-${createHash('sha256').update(script).digest('base64')}'`;

let gateway: RunningGateway;
beforeAll(async () => {
	mkdirSync(join(site, 'chapter'));
	writeFileSync(join(site, 'chapter', 'index.html'), page('window.version = 1'));
	writeFileSync(join(site, 'app.js'), 'console.log(1)');
	gateway = await startGateway({ PODLAB_SITE_DIR: site });
});
afterAll(async () => {
	await gateway?.stop();
});

/** A GET as sent, and the body as received (fetch would ask for and undo the compression itself). */
function rawGet(url: string, headers: Record<string, string>): Promise<{ headers: IncomingHttpHeaders; body: Buffer }> {
	return new Promise((resolve, reject) => {
		get(url, { headers }, (response) => {
			const chunks: Buffer[] = [];
			response.on('data', (chunk: Buffer) => chunks.push(chunk));
			response.on('end', () => resolve({ headers: response.headers, body: Buffer.concat(chunks) }));
		}).on('error', reject);
	});
}

describe('the static site', () => {
	it('allows exactly the page’s inline scripts, and follows a rebuild', async () => {
		const first = (await fetch(`${gateway.url}chapter/`)).headers.get('content-security-policy')!;
		expect(first).toContain(`script-src 'self' 'wasm-unsafe-eval' ${hash('window.version = 1')};`);
		writeFileSync(join(site, 'chapter', 'index.html'), page('window.version = 22'));
		const second = (await fetch(`${gateway.url}chapter/`)).headers.get('content-security-policy')!;
		expect(second).toContain(hash('window.version = 22'));
		expect(second).not.toContain(hash('window.version = 1'));
	});

	it('gives assets a self-only policy and redirects a folder without its slash', async () => {
		const asset = await fetch(`${gateway.url}app.js`);
		expect(asset.headers.get('content-security-policy')).toBe("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; object-src 'none'; frame-ancestors 'none'");
		const folder = await fetch(`${gateway.url}chapter`, { redirect: 'manual' });
		expect([folder.status, folder.headers.get('location')]).toEqual([301, '/chapter/']);
	});

	it('answers 404 for a file deleted under it, and keeps running', async () => {
		expect((await fetch(`${gateway.url}app.js`)).status).toBe(200);
		rmSync(join(site, 'app.js'));
		const gone = await fetch(`${gateway.url}app.js`);
		expect(gone.status).toBe(404);
		expect(await gone.json()).toMatchObject({ code: 'LAB_ERR_NOT_FOUND' });
		expect((await fetch(`${gateway.url}api/health`)).status).toBe(200);
	});

	it('does not serve outside the site', async () => {
		const response = await fetch(`${gateway.url}..%2f..%2fetc%2fpasswd`);
		expect(response.status).not.toBe(200);
	});

	it('sends brotli to a browser that accepts it, else gzip, else the file as it is, and pages keep their policy', async () => {
		const script = 'console.log("a line of the site’s JavaScript");\n'.repeat(500);
		writeFileSync(join(site, 'big.js'), script);
		const identity = (bytes: Buffer) => bytes;
		for (const [accept, encoding, decode] of [
			['gzip, deflate, br, zstd', 'br', brotliDecompressSync],
			['gzip, deflate', 'gzip', gunzipSync],
			['br;q=0, gzip', 'gzip', gunzipSync],
			['identity', undefined, identity],
		] as const) {
			const { headers, body } = await rawGet(`${gateway.url}big.js`, { 'accept-encoding': accept });
			expect(headers['content-encoding'], accept).toBe(encoding);
			expect(headers.vary, accept).toBe('Accept-Encoding');
			expect(headers['content-type']).toBe('text/javascript; charset=utf-8');
			expect(decode(body).toString(), accept).toBe(script);
			if (encoding) expect(body.length, accept).toBeLessThan(Buffer.byteLength(script) / 10);
		}
		const { headers, body } = await rawGet(`${gateway.url}chapter/`, { 'accept-encoding': 'gzip' });
		expect(headers['content-encoding']).toBeUndefined(); // under the 1 KB below which compressing does not pay
		expect(body.toString()).toContain('<title>t</title>');
		writeFileSync(join(site, 'chapter', 'index.html'), page('window.version = 3').replace('<title>t</title>', `<title>${'t'.repeat(2000)}</title>`));
		const large = await rawGet(`${gateway.url}chapter/`, { 'accept-encoding': 'gzip' });
		expect(large.headers['content-encoding']).toBe('gzip');
		expect(large.headers['content-security-policy']).toContain(hash('window.version = 3'));
		expect(gunzipSync(large.body).toString()).toContain('window.version = 3');
	});

	it('sends the copies the build compressed, in what the browser accepts, unless they are older than the file', async () => {
		mkdirSync(join(site, '_astro'), { recursive: true });
		const script = Array.from({ length: 2000 }, (_, i) => `export const line${i} = ${i * 7919};`).join('\n');
		const file = join(site, '_astro', 'chunk.Ab12.js');
		writeFileSync(file, script);
		writeFileSync(join(site, '_astro', 'small.js'), 'export {};');
		const totals = await precompressSite(join(site, '_astro'));
		expect(totals.files).toBe(1); // small.js is under 1 KB
		expect(() => readFileSync(join(site, '_astro', 'small.js.br'))).toThrow();
		const url = `${gateway.url}_astro/chunk.Ab12.js?v=1`;
		for (const [accept, encoding, suffix, decode] of [
			['gzip, deflate, br, zstd', 'br', '.br', brotliDecompressSync],
			['gzip;q=1, br;q=0', 'gzip', '.gz', gunzipSync],
		] as const) {
			const { headers, body } = await rawGet(url, { 'accept-encoding': accept });
			expect(headers['content-encoding'], accept).toBe(encoding);
			expect(body.equals(readFileSync(file + suffix)), `${accept}: the copy's bytes`).toBe(true);
			expect(decode(body).toString()).toBe(script);
			expect(headers['content-type']).toBe('text/javascript; charset=utf-8');
			expect(headers['content-length']).toBe(String(body.length));
			expect(headers.vary).toBe('Accept-Encoding');
			expect(headers['cache-control']).toBe('public, max-age=31536000, immutable');
			expect(headers['content-security-policy']).toContain("default-src 'self'");
		}
		const plain = await rawGet(url, { 'accept-encoding': 'identity' });
		expect(plain.headers['content-encoding']).toBeUndefined();
		expect(plain.body.toString()).toBe(script);

		// A file newer than its copies (changed in place) is compressed on the fly instead.
		const later = new Date(Date.now() + 60_000);
		utimesSync(file, later, later);
		const fresh = await rawGet(url, { 'accept-encoding': 'br' });
		expect(fresh.headers['content-encoding']).toBe('br');
		expect(fresh.body.equals(readFileSync(`${file}.br`))).toBe(false);
		expect(brotliDecompressSync(fresh.body).toString()).toBe(script);
		const gone = await rawGet(`${gateway.url}_astro/missing.js`, { 'accept-encoding': 'br' });
		expect(gone.headers['content-encoding']).toBeUndefined();
	});
});
