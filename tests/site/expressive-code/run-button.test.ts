import { resolve } from 'node:path';
import { ExpressiveCode } from '@astrojs/starlight/expressive-code';
import { select, selectAll, type Element } from '@astrojs/starlight/expressive-code/hast';
import { describe, expect, it } from 'vitest';
import { blockId } from '../../../src/expressive-code/block-id.ts';
import { pluginRunButton } from '../../../src/expressive-code/run-button.ts';

const docsDir = resolve('content/docs');
const engine = new ExpressiveCode({ plugins: [pluginRunButton({ docsDir })] });

/** Renders one block as the 3rd block of content/docs/lab-check.mdx. */
async function render(language: string, meta: string, code: string) {
	const { renderedGroupAst } = await engine.render({
		code,
		language,
		meta,
		parentDocument: { sourceFilePath: resolve(docsDir, 'lab-check.mdx'), positionInDocument: { groupIndex: 2 } },
	});
	return renderedGroupAst;
}

function button(ast: Element): Element | undefined {
	return select('button[data-podlab-run]', ast) as Element | undefined;
}

describe('pluginRunButton', () => {
	it('adds a Run button with the code, block id and terminal in data attributes', async () => {
		const run = button(await render('bash', '', 'uname -a\nid\n'));
		expect(run?.properties).toMatchObject({
			type: 'button',
			dataPodlabRun: 'run',
			dataPodlabCode: 'uname -a\u007fid',
			dataPodlabBlock: 'lab-check:3',
			dataPodlabTerm: 'main',
		});
		expect(run?.properties.dataPodlabInterrupt).toBeUndefined();
	});

	it('labels the button for its terminal and keeps a status next to it', async () => {
		const ast = await render('sh', 'term="logs" interrupt', 'dmesg -w');
		const run = button(ast)!;
		expect(run.properties).toMatchObject({ dataPodlabTerm: 'logs', dataPodlabInterrupt: '' });
		expect(selectAll('span', run).map((span) => (span.children[0] as { value: string }).value)).toEqual(['Run in logs']);
		expect(select('.podlab-run [data-podlab-status][role=status]', ast)).toBeDefined();
	});

	it('adds an "Open in browser" link to the lab’s port with open=PORT, and none without', async () => {
		const link = select('.podlab-run a.podlab-open-link', await render('bash', 'open=8080', 'wget -qO- http://127.0.0.1:8080/'));
		expect(link?.properties).toMatchObject({ href: '/api/preview?port=8080', target: '_blank', rel: ['noopener', 'noreferrer'] });
		expect(select('.podlab-run a', await render('bash', '', 'true'))).toBeUndefined();
		await expect(render('bash', 'open=99999', 'true')).rejects.toThrow(/open.*at most 65535/);
	});

	it('renders no button with norun, and none on a block that is not a shell', async () => {
		expect(button(await render('bash', 'norun', 'rm -rf /tmp/x'))).toBeUndefined();
		expect(button(await render('yaml', '', 'kind: Pod'))).toBeUndefined();
	});

	it('gives a titled file block "Write to lab" with a heredoc that creates it', async () => {
		const write = button(await render('c', 'title="memstress.c"', 'int main(void) {}\n'));
		expect(write?.properties.dataPodlabRun).toBe('write');
		expect(String(write?.properties.dataPodlabCode).split('\u007f')).toEqual([
			"cat > 'memstress.c' <<'PODLAB_EOF' && ls -l 'memstress.c'",
			'int main(void) {}',
			'PODLAB_EOF',
		]);
	});

	it('runs the code exactly as written in the chapter, even where the frame takes a file name from it', async () => {
		const ast = await render('bash', '', '# lab-setup.sh\necho ready\n');
		expect(button(ast)?.properties.dataPodlabCode).toBe('# lab-setup.sh\u007fecho ready');
	});

	it('fails the build on a bad meta, naming the block', async () => {
		await expect(render('bash', 'term="Logs"', 'echo')).rejects.toThrow(
			/Invalid code block meta in content\/docs\/lab-check\.mdx, code block 3 \(```bash\): "term": a terminal name/,
		);
	});

	it('fails the build on a block larger than the gateway accepts', async () => {
		await expect(render('bash', '', 'x'.repeat(60_001))).rejects.toThrow(/Code block 3 in content\/docs\/lab-check.mdx cannot be run: "code": Too big/);
	});

	it('ships one minified jsModule that installs the click handler with the shared names', async () => {
		const modules = await engine.getJsModules();
		const ours = modules.filter((module) => module.includes('"podlab:run"'));
		expect(ours).toHaveLength(1);
		expect(ours[0]).toMatch(/^try\{/);
		expect(ours[0]).toContain('eventName:"podlab:run"');
		expect(ours[0]).toContain('statusAttribute:"data-podlab-status"');
		// Every page with a code block loads it: the source's comments and indentation stay behind.
		expect(ours[0]).not.toContain('/**');
		expect(ours[0]).not.toMatch(/\n\t/);
	});
});

describe('blockId', () => {
	it('names a block by its file under the chapters root and its position', () => {
		expect(blockId(resolve(docsDir, 'chapters/namespaces.mdx'), 2, docsDir)).toBe('chapters/namespaces:2');
		expect(blockId('/elsewhere/notes.md', 1, docsDir)).toBe('notes:1');
		expect(blockId(undefined, 5, docsDir)).toBe('block:5');
	});
});

describe('recorded output', () => {
	it('shows the recorded run of a block under it, and nothing for a block without one', async () => {
		const { mkdtempSync, mkdirSync, writeFileSync } = await import('node:fs');
		const { join } = await import('node:path');
		const { tmpdir } = await import('node:os');
		const transcriptsDir = mkdtempSync(join(tmpdir(), 'podlab-transcripts-'));
		mkdirSync(join(transcriptsDir, 'chapters'));
		writeFileSync(
			join(transcriptsDir, 'lab-check.podman.json'),
			JSON.stringify({
				chapter: 'lab-check',
				profile: 'podman',
				recordedAt: '2026-11-26T18:00:00.000Z',
				lab: {},
				blocks: [{ id: 'lab-check:3', command: 'uname -a', output: 'Linux lab 6.1.0\n', exit: 0 }],
			}),
		);
		const recordingEngine = new ExpressiveCode({ plugins: [pluginRunButton({ docsDir, transcriptsDir })] });
		const renderAt = async (groupIndex: number) =>
			(
				await recordingEngine.render({
					code: 'uname -a',
					language: 'bash',
					meta: '',
					parentDocument: { sourceFilePath: resolve(docsDir, 'lab-check.mdx'), positionInDocument: { groupIndex } },
				})
			).renderedGroupAst;
		const details = select('details.podlab-recorded', await renderAt(2));
		expect(details).toBeDefined();
		const text = (node: unknown): string =>
			typeof node === 'object' && node !== null && 'value' in node ? String(node.value) : ((node as Element).children ?? []).map(text).join('');
		expect(text(select('summary', details!))).toBe('Recorded output — podman lab, 2026-11-26 (exit 0)');
		expect(text(select('pre', details!))).toBe('Linux lab 6.1.0');
		expect(select('details.podlab-recorded', await renderAt(3))).toBeUndefined();
	});
});
