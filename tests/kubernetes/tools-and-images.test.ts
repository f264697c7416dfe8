/**
 * One list of tools, three places that must agree: the commands the chapters' blocks call (beyond a
 * base system's), the tool loop of /lab-check/, and what the provisioner makes sure of on a node.
 * Likewise the images: those the chapters' YAML names are the ones the provisioner pulls.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { collectBlocks } from '../../src/chapters/collect-blocks.ts';
import { chapterFile, DOCS_DIR, listChapters } from '../doctest/chapters.ts';
import { REPO_ROOT } from '../lab/lab-required.ts';
import { shellCommands } from './kubernetes-blocks.ts';

/** bash builtins the blocks use: part of the shell, not tools. */
const SHELL_BUILTINS = new Set(['echo', 'printf', 'kill', 'command', 'cd', 'export', 'read', 'set', 'test', 'true', 'false', 'break', 'exit']);

/**
 * Commands every Debian and Ubuntu system has: from its Essential packages (coreutils, grep, sed,
 * util-linux, hostname, dash, bash) and mawk, which is Priority: required.
 */
const BASE_SYSTEM = new Set([
	'awk', 'cat', 'chmod', 'cut', 'dmesg', 'grep', 'head', 'hostname', 'id', 'ls', 'readlink', 'rm',
	'sed', 'seq', 'sh', 'sleep', 'stat', 'tail', 'tr', 'tty', 'uname', 'unshare',
]);

async function blocksOf(profile: 'podman' | 'kubernetes') {
	const blocks = [];
	for (const chapter of await listChapters()) blocks.push(...(await collectBlocks(chapterFile(chapter), DOCS_DIR, profile)));
	return blocks.filter((block) => block.action === 'run');
}

/** The tools a profile's blocks call: every command name that is no builtin, no base command and no ./program. */
async function toolsOf(profile: 'podman' | 'kubernetes'): Promise<string[]> {
	const names = new Set<string>();
	for (const block of await blocksOf(profile)) for (const command of await shellCommands(block.code)) names.add(command.name);
	return [...names].filter((name) => !SHELL_BUILTINS.has(name) && !BASE_SYSTEM.has(name) && !name.includes('/')).sort();
}

/** `readonly NAME=(a b c)` in the provisioner. */
async function provisionerList(name: string): Promise<string[]> {
	const script = await readFile(join(REPO_ROOT, 'lab/provision/provision-node.sh'), 'utf8');
	const match = new RegExp(`^readonly ${name}=\\(([^)]*)\\)$`, 'm').exec(script);
	if (!match) throw new Error(`lab/provision/provision-node.sh has no "readonly ${name}=(…)" line`);
	return match[1]!.trim().split(/\s+/);
}

/** The words of the lab check's `for tool in …; do` loop. */
async function labCheckTools(): Promise<string[]> {
	const blocks = await collectBlocks(chapterFile('lab-check'), DOCS_DIR, null);
	for (const block of blocks) {
		const loop = /^for tool in ([^;]+); do$/m.exec(block.code);
		if (loop) return loop[1]!.trim().split(/\s+/);
	}
	throw new Error('lab-check.mdx has no "for tool in …; do" block');
}

/** A short image name as containerd stores it: alpine:3.2 → docker.io/library/alpine:3.2. */
function fullImageName(image: string): string {
	const withTag = /:[^/]+$/.test(image) ? image : `${image}:latest`;
	return withTag.includes('/') ? withTag : `docker.io/library/${withTag}`;
}

describe('the tools of the chapters', () => {
	it('are found in the blocks (the base system and builtins aside)', async () => {
		expect(await toolsOf('kubernetes')).toEqual(['crictl', 'ctr', 'gcc', 'ip', 'jq', 'kubectl', 'pgrep', 'ps', 'pstree', 'wget']);
		expect(await toolsOf('podman')).toEqual(['gcc', 'ip', 'jq', 'pgrep', 'podman', 'ps', 'pstree', 'wget']);
	});

	it('of the kubernetes tabs are exactly what the provisioner checks for on the node', async () => {
		expect((await provisionerList('CHAPTER_TOOLS')).sort()).toEqual(await toolsOf('kubernetes'));
	});

	it('of both labs are exactly what /lab-check/ lists', async () => {
		const both = [...new Set([...(await toolsOf('kubernetes')), ...(await toolsOf('podman'))])].sort();
		expect((await labCheckTools()).sort()).toEqual(both);
	});
});

describe('the images of the chapters', () => {
	it('are exactly what the provisioner pulls', async () => {
		const images = new Set<string>();
		for (const name of ['alpine-deployment.yaml', 'nginx-deployment.yaml']) {
			for (const document of parseAllDocuments(await readFile(join(REPO_ROOT, 'lab/manifests', name), 'utf8'))) {
				const object = document.toJS() as { spec?: { template?: { spec?: { containers?: Array<{ image: string }> } } } };
				for (const container of object.spec?.template?.spec?.containers ?? []) images.add(fullImageName(container.image));
			}
		}
		expect([...images].sort()).toEqual(['docker.io/library/alpine:3.2', 'docker.io/library/busybox:latest', 'docker.io/library/nginx:latest']);
		expect((await provisionerList('CHAPTER_IMAGES')).sort()).toEqual([...images].sort());
	});
});
