import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { collectBlocks } from '../../src/chapters/collect-blocks.ts';
import { commandOutput, plainText } from './terminal-text.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const file = `${FIXTURES}tabs.mdx`;

describe('collectBlocks', () => {
	it('lists runnable blocks in page order, with the ids the Run buttons have', async () => {
		const blocks = await collectBlocks(file, FIXTURES, null);
		expect(blocks.map((block) => [block.id, block.action, block.term, block.profile])).toEqual([
			['tabs:1', 'run', 'main', null],
			['tabs:2', 'run', 'main', 'kubernetes'],
			['tabs:3', 'run', 'main', 'podman'],
			['tabs:5', 'write', 'main', null],
			['tabs:7', 'run', 'logs', null],
		]);
	});

	it('keeps a profile’s tabs and the blocks common to all', async () => {
		const podman = await collectBlocks(file, FIXTURES, 'podman');
		expect(podman.map((block) => block.id)).toEqual(['tabs:1', 'tabs:3', 'tabs:5', 'tabs:7']);
		expect(podman[1]).toMatchObject({ code: 'podman pod ps; exit 2', test: { exit: 2, timeout: 5 } });
		expect(podman[3]).toMatchObject({ test: { exit: 0, until: 'ready' } });
		const kubernetes = await collectBlocks(file, FIXTURES, 'kubernetes');
		expect(kubernetes[1]).toMatchObject({ id: 'tabs:2', test: { exit: 0, expect: 'Running' } });
	});

	it('types a file block as the heredoc Write to lab uses', async () => {
		const [write] = (await collectBlocks(file, FIXTURES, null)).filter((block) => block.action === 'write');
		expect(write!.code).toBe("cat > 'hello.c' <<'PODLAB_EOF' && ls -l 'hello.c'\nint main(void) { return 0; }\nPODLAB_EOF");
		expect(write!.line).toBe(28);
	});
});

describe('terminal text', () => {
	it('keeps what the command printed, without escapes', () => {
		const raw = 'prompt$ ls\r\n\x1b]133;C;nonce=1\x07\x1b[1;34mdir\x1b[0m  file\r\nprogress 10%\rprogress 100%\r\n\x1b]133;D;0;nonce=1\x07prompt$ ';
		expect(plainText(commandOutput(raw))).toBe('dir  file\nprogress 100%\n');
	});
});

describe('the chapters', () => {
	it('show lab/memstress.c exactly as the lab has it', async () => {
		const { readFile } = await import('node:fs/promises');
		const { chapterFile, DOCS_DIR } = await import('./chapters.ts');
		const blocks = await collectBlocks(chapterFile('chapters/oom'), DOCS_DIR, 'podman');
		const write = blocks.find((block) => block.action === 'write' && block.file === 'memstress.c');
		expect(write, 'a Write to lab block for memstress.c').toBeDefined();
		// Write to lab ends the file with a newline, as lab/memstress.c does.
		expect(`${write!.source}\n`).toBe(await readFile(new URL('../../lab/memstress.c', import.meta.url), 'utf8'));
	});
});
