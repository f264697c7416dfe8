/**
 * A plain Starlight page to weigh podlab's pages against: a minimal Astro project in a scratch
 * directory, built in the same run with this repository's own astro and @astrojs/starlight, and
 * served as static files on 127.0.0.1. What a podlab chapter loads beyond this page is podlab's.
 *
 * The project gets the repository's node_modules as hard links (`cp -al`, a few seconds, no bytes
 * copied): nothing is downloaded and the versions are the ones podlab ships. Not a symbolic link:
 * Astro 7 then sees its components outside the project's root and fails the build ("No cached
 * compile metadata"), and with Vite's `preserveSymlinks` the server render cannot load them.
 *
 * The page has what a chapter has from Starlight itself — headings (the table of contents), a shell
 * code block (Expressive Code), synced tabs, an aside — and no podlab code.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import serveStatic from 'serve-static';
import type { Cleanup } from './cleanup.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The page's path on the plain site. */
export const PLAIN_PAGE = '/chapter/';

const projectFiles = (): Record<string, string> => ({
	// The dependencies are listed as in any Starlight project: Astro reads them to find the packages of
	// Astro components, which it must bundle for the server render rather than leave to Node.
	'package.json': JSON.stringify({
		name: 'plain-starlight',
		private: true,
		type: 'module',
		dependencies: { astro: installedVersion('astro'), '@astrojs/starlight': installedVersion('@astrojs/starlight') },
	}),
	'astro.config.mjs': `import { defineConfig } from 'astro/config';
import starlight from '@astrojs/starlight';
export default defineConfig({
	// As podlab's site, which has its own 404 page: not part of a chapter's weight either way.
	integrations: [starlight({ title: 'Plain Starlight', disable404Route: true })],
});
`,
	'src/content.config.ts': `import { defineCollection } from 'astro:content';
import { docsLoader } from '@astrojs/starlight/loaders';
import { docsSchema } from '@astrojs/starlight/schema';
export const collections = { docs: defineCollection({ loader: docsLoader(), schema: docsSchema() }) };
`,
	'src/content/docs/chapter.mdx': `---
title: A chapter
description: A plain Starlight page with what a podlab chapter uses from Starlight.
---

import { Aside, Tabs, TabItem } from '@astrojs/starlight/components';

## Commands

A paragraph before the block.

\`\`\`bash
uname -a
\`\`\`

<Tabs syncKey="lab">
  <TabItem label="podman">

\`\`\`bash
podman ps
\`\`\`

  </TabItem>
  <TabItem label="kubernetes">

\`\`\`bash
crictl ps
\`\`\`

  </TabItem>
</Tabs>

## Notes

<Aside>An aside.</Aside>
`,
});

export interface PlainStarlight {
	/** The served site's origin, e.g. http://127.0.0.1:40123 */
	origin: string;
	/** The astro and @astrojs/starlight versions it was built with. */
	versions: { astro: string; starlight: string };
	buildMs: number;
}

function installedVersion(name: string): string {
	return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Builds the plain page with the repository's astro and serves it; both are undone by `cleanup`. */
export async function startPlainStarlight(cleanup: Cleanup): Promise<PlainStarlight> {
	const project = mkdtempSync(join(tmpdir(), 'podlab-plain-starlight-'));
	cleanup.defer('plain Starlight project', () => rmSync(project, { recursive: true, force: true }));
	for (const [path, text] of Object.entries(projectFiles())) {
		mkdirSync(join(project, path, '..'), { recursive: true });
		writeFileSync(join(project, path), text);
	}
	await run('cp', ['-al', join(ROOT, 'node_modules'), join(project, 'node_modules')], project, 'link node_modules (the scratch directory must be on the same file system as the repository; set TMPDIR)');

	const started = performance.now();
	await astroBuild(project);
	const buildMs = performance.now() - started;

	const files = serveStatic(join(project, 'dist'), { extensions: ['html'] });
	const server = createServer((request, response) =>
		files(request, response, () => {
			response.statusCode = 404;
			response.end('not found');
		}),
	);
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	cleanup.defer('plain Starlight server', () => new Promise((resolve) => server.close(resolve)));
	return {
		origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
		versions: { astro: installedVersion('astro'), starlight: installedVersion('@astrojs/starlight') },
		buildMs,
	};
}

/** `astro build` in `project` on this Node, as scripts/site-build.ts builds podlab's site. */
function astroBuild(project: string): Promise<void> {
	return run(process.execPath, [join(project, 'node_modules', 'astro', 'bin', 'astro.mjs'), 'build'], project, 'astro build');
}

function run(command: string, args: string[], cwd: string, what: string): Promise<void> {
	return new Promise((resolve, reject) => {
		const child = spawn(command, args, {
			cwd,
			env: { PATH: process.env.PATH ?? '', HOME: cwd, NODE_ENV: 'production', ASTRO_TELEMETRY_DISABLED: '1', NO_COLOR: '1' },
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		let output = '';
		child.stdout.on('data', (chunk) => (output += chunk));
		child.stderr.on('data', (chunk) => (output += chunk));
		child.on('error', (error) => reject(new Error(`plain Starlight: could not run ${command}: ${error.message}`, { cause: error })));
		child.on('exit', (code, signal) => {
			if (code === 0) resolve();
			else reject(new Error(`plain Starlight: ${what} failed (${signal ?? `exit ${code}`}):\n${output.trim().split('\n').slice(-20).join('\n')}`));
		});
	});
}
