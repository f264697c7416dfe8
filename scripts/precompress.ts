/**
 * Writes a brotli (`.br`, quality 11) and a gzip (`.gz`, level 9) copy beside each of the built site's
 * scripts and styles, once per build, so the gateway sends them without compressing per request
 * (server/static-site.ts picks the one a browser accepts). Maximum quality is affordable here and
 * not per request: xterm.js is 70 KB in brotli 11 against 88 KB at the quality 3 used on the fly.
 * Static hosts can serve the same files (nginx `gzip_static`, ngx_brotli's `brotli_static`, Caddy's `precompressed`).
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';

/** The files worth it: text the browser downloads by name. Pages are compressed on the fly (their policy is read from them). */
export const PRECOMPRESSED_TYPES: Readonly<Record<string, string>> = {
	'.js': 'text/javascript; charset=utf-8',
	'.mjs': 'text/javascript; charset=utf-8',
	'.css': 'text/css; charset=utf-8',
};

/** The copies, in the order the gateway prefers them. */
export const ENCODINGS = [
	{ encoding: 'br', suffix: '.br' },
	{ encoding: 'gzip', suffix: '.gz' },
] as const;

/** Below this a compressed copy saves less than its headers cost (the same threshold as the on-the-fly compression). */
const MIN_BYTES = 1024;

const compressBrotli = promisify(brotliCompress);
const compressGzip = promisify(gzip);

export interface PrecompressResult {
	files: number;
	bytes: number;
	brotliBytes: number;
	gzipBytes: number;
}

async function* filesUnder(dir: string): AsyncGenerator<string> {
	for (const entry of await readdir(dir, { withFileTypes: true })) {
		const path = join(dir, entry.name);
		if (entry.isDirectory()) yield* filesUnder(path);
		else if (entry.isFile() && Object.hasOwn(PRECOMPRESSED_TYPES, extname(entry.name))) yield path;
	}
}

async function precompressFile(path: string, totals: PrecompressResult): Promise<void> {
	const source = await readFile(path);
	if (source.length < MIN_BYTES) return;
	const [brotli, gzipped] = await Promise.all([
		compressBrotli(source, {
			params: {
				[zlib.BROTLI_PARAM_QUALITY]: zlib.BROTLI_MAX_QUALITY,
				[zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT,
				[zlib.BROTLI_PARAM_SIZE_HINT]: source.length,
			},
		}),
		compressGzip(source, { level: zlib.Z_BEST_COMPRESSION }),
	]);
	await Promise.all([writeFile(`${path}.br`, brotli), writeFile(`${path}.gz`, gzipped)]);
	totals.files += 1;
	totals.bytes += source.length;
	totals.brotliBytes += brotli.length;
	totals.gzipBytes += gzipped.length;
}

/** Compresses every script and style under `dir`, four files at a time (zlib's threads do the work). */
export async function precompressSite(dir: string): Promise<PrecompressResult> {
	const totals: PrecompressResult = { files: 0, bytes: 0, brotliBytes: 0, gzipBytes: 0 };
	if (!(await stat(dir).catch(() => null))?.isDirectory()) return totals;
	const paths = await Array.fromAsync(filesUnder(dir));
	const worker = async () => {
		for (let path = paths.pop(); path !== undefined; path = paths.pop()) await precompressFile(path, totals);
	};
	await Promise.all([worker(), worker(), worker(), worker()]);
	return totals;
}
