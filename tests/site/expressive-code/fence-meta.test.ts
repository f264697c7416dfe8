import { MetaOptions } from '@astrojs/starlight/expressive-code';
import { describe, expect, it } from 'vitest';
import { classifyBlock, describeValidKeys, type MetaOptionLike } from '../../../src/expressive-code/fence-meta.ts';

/** Parses a meta string exactly as Expressive Code does. */
function classify(language: string, meta: string) {
	const options = new MetaOptions(meta);
	return classifyBlock({
		language,
		title: options.getString('title'),
		options: options.list() as MetaOptionLike[],
		location: { file: 'content/docs/lab-check.mdx', index: 4 },
	});
}

describe('classifyBlock', () => {
	it('gives a shell block a Run button in the main terminal', () => {
		expect(classify('bash', '')).toEqual({ action: 'run', term: 'main', interrupt: false, test: { exit: 0 } });
		expect(classify('sh', '')?.action).toBe('run');
		expect(classify('shell', '')?.action).toBe('run');
	});

	it('reads term, interrupt and the doc-test keys', () => {
		expect(classify('bash', 'term="logs" interrupt exit=3 expect="^Linux" timeout=120 until=/ready/')).toEqual({
			action: 'run',
			term: 'logs',
			interrupt: true,
			test: { exit: 3, expect: '^Linux', timeout: 120, until: 'ready' },
		});
	});

	it('reads the port of an Open in browser link', () => {
		expect(classify('bash', 'open=8080')).toMatchObject({ action: 'run', open: 8080 });
		expect(() => classify('bash', 'open=0')).toThrow(/"open": must be at least 1/);
		expect(() => classify('bash', 'open=web')).toThrow(/"open": must be a whole number \(a port in the lab, 1-65535\)/);
	});

	it('leaves keys of the other Expressive Code plugins and text markers alone', () => {
		expect(classify('bash', 'title="setup" frame="terminal" {2-3} "podman" /crictl/ mark={1} wrap')?.action).toBe('run');
	});

	it('gives a non-shell block with a file title "Write to lab"', () => {
		expect(classify('c', 'title="memstress.c"')).toEqual({
			action: 'write',
			term: 'main',
			interrupt: false,
			file: 'memstress.c',
			test: { exit: 0 },
		});
		expect(classify('yaml', 'title="lab/pod.yaml" term="logs"')).toMatchObject({ action: 'write', file: 'lab/pod.yaml', term: 'logs' });
	});

	it('gives no button to norun blocks and to other blocks without a title', () => {
		expect(classify('bash', 'norun')).toBeNull();
		expect(classify('c', 'norun title="x.c"')).toBeNull();
		expect(classify('yaml', '')).toBeNull();
		expect(classify('text', '{1}')).toBeNull();
	});

	it('rejects an unknown key and lists the valid ones', () => {
		expect(() => classify('bash', 'nrun')).toThrowErrorMatchingInlineSnapshot(`
			[FenceMetaError: Invalid code block meta in content/docs/lab-check.mdx, code block 4 (\`\`\`bash): unknown key "nrun" (did you mean "norun"?).
			Valid keys: norun, term="name", interrupt, exit=N, expect="regex", timeout=N, until="regex", open=PORT (podlab); title, frame, wrap, preserveIndent, hangingIndent, mark, ins, del, add, rem, lang, useDiffSyntax (Expressive Code).]
		`);
	});

	it('points at a key written in the wrong case', () => {
		expect(() => classify('bash', 'Term="logs"')).toThrowErrorMatchingInlineSnapshot(`
			[FenceMetaError: Invalid code block meta in content/docs/lab-check.mdx, code block 4 (\`\`\`bash): unknown key "Term" (did you mean "term"?).
			Valid keys: norun, term="name", interrupt, exit=N, expect="regex", timeout=N, until="regex", open=PORT (podlab); title, frame, wrap, preserveIndent, hangingIndent, mark, ins, del, add, rem, lang, useDiffSyntax (Expressive Code).]
		`);
	});

	it('rejects invalid values', () => {
		expect(() => classify('bash', 'term="Logs"')).toThrowErrorMatchingInlineSnapshot(`
			[FenceMetaError: Invalid code block meta in content/docs/lab-check.mdx, code block 4 (\`\`\`bash): "term": a terminal name is 1-24 of a-z, 0-9 and "-", starting with a letter.
			Valid keys: norun, term="name", interrupt, exit=N, expect="regex", timeout=N, until="regex", open=PORT (podlab); title, frame, wrap, preserveIndent, hangingIndent, mark, ins, del, add, rem, lang, useDiffSyntax (Expressive Code).]
		`);
		expect(() => classify('bash', 'exit=-1')).toThrowErrorMatchingInlineSnapshot(`
			[FenceMetaError: Invalid code block meta in content/docs/lab-check.mdx, code block 4 (\`\`\`bash): "exit": must be a whole number (an exit status, 0-255).
			Valid keys: norun, term="name", interrupt, exit=N, expect="regex", timeout=N, until="regex", open=PORT (podlab); title, frame, wrap, preserveIndent, hangingIndent, mark, ins, del, add, rem, lang, useDiffSyntax (Expressive Code).]
		`);
		expect(() => classify('bash', 'exit=256')).toThrowErrorMatchingInlineSnapshot(`
			[FenceMetaError: Invalid code block meta in content/docs/lab-check.mdx, code block 4 (\`\`\`bash): "exit": must be at most 255.
			Valid keys: norun, term="name", interrupt, exit=N, expect="regex", timeout=N, until="regex", open=PORT (podlab); title, frame, wrap, preserveIndent, hangingIndent, mark, ins, del, add, rem, lang, useDiffSyntax (Expressive Code).]
		`);
		expect(() => classify('bash', 'timeout=0')).toThrowErrorMatchingInlineSnapshot(`
			[FenceMetaError: Invalid code block meta in content/docs/lab-check.mdx, code block 4 (\`\`\`bash): "timeout": must be at least 1.
			Valid keys: norun, term="name", interrupt, exit=N, expect="regex", timeout=N, until="regex", open=PORT (podlab); title, frame, wrap, preserveIndent, hangingIndent, mark, ins, del, add, rem, lang, useDiffSyntax (Expressive Code).]
		`);
		expect(() => classify('bash', 'expect="(unclosed"')).toThrowErrorMatchingInlineSnapshot(`
			[FenceMetaError: Invalid code block meta in content/docs/lab-check.mdx, code block 4 (\`\`\`bash): "expect": is not a valid JavaScript regular expression.
			Valid keys: norun, term="name", interrupt, exit=N, expect="regex", timeout=N, until="regex", open=PORT (podlab); title, frame, wrap, preserveIndent, hangingIndent, mark, ins, del, add, rem, lang, useDiffSyntax (Expressive Code).]
		`);
	});

	it('rejects flags with values, values without keys, and repeated keys', () => {
		expect(() => classify('bash', 'norun="yes"')).toThrowErrorMatchingInlineSnapshot(`
			[FenceMetaError: Invalid code block meta in content/docs/lab-check.mdx, code block 4 (\`\`\`bash): "norun" is a flag: write \`norun\`, without a value.
			Valid keys: norun, term="name", interrupt, exit=N, expect="regex", timeout=N, until="regex", open=PORT (podlab); title, frame, wrap, preserveIndent, hangingIndent, mark, ins, del, add, rem, lang, useDiffSyntax (Expressive Code).]
		`);
		expect(() => classify('bash', 'interrupt=false')).toThrowErrorMatchingInlineSnapshot(`
			[FenceMetaError: Invalid code block meta in content/docs/lab-check.mdx, code block 4 (\`\`\`bash): "interrupt=false" is not needed: leave "interrupt" out.
			Valid keys: norun, term="name", interrupt, exit=N, expect="regex", timeout=N, until="regex", open=PORT (podlab); title, frame, wrap, preserveIndent, hangingIndent, mark, ins, del, add, rem, lang, useDiffSyntax (Expressive Code).]
		`);
		expect(() => classify('bash', 'term')).toThrowErrorMatchingInlineSnapshot(`
			[FenceMetaError: Invalid code block meta in content/docs/lab-check.mdx, code block 4 (\`\`\`bash): "term" needs a value: write \`term="name"\`.
			Valid keys: norun, term="name", interrupt, exit=N, expect="regex", timeout=N, until="regex", open=PORT (podlab); title, frame, wrap, preserveIndent, hangingIndent, mark, ins, del, add, rem, lang, useDiffSyntax (Expressive Code).]
		`);
		expect(() => classify('bash', 'term="a" term="b"')).toThrowErrorMatchingInlineSnapshot(`
			[FenceMetaError: Invalid code block meta in content/docs/lab-check.mdx, code block 4 (\`\`\`bash): "term" is given twice.
			Valid keys: norun, term="name", interrupt, exit=N, expect="regex", timeout=N, until="regex", open=PORT (podlab); title, frame, wrap, preserveIndent, hangingIndent, mark, ins, del, add, rem, lang, useDiffSyntax (Expressive Code).]
		`);
	});

	it('rejects keys that would have no effect', () => {
		expect(() => classify('bash', 'norun term="logs"')).toThrowErrorMatchingInlineSnapshot(`
			[FenceMetaError: Invalid code block meta in content/docs/lab-check.mdx, code block 4 (\`\`\`bash): "norun" removes the button, so "term" has no effect.
			Valid keys: norun, term="name", interrupt, exit=N, expect="regex", timeout=N, until="regex", open=PORT (podlab); title, frame, wrap, preserveIndent, hangingIndent, mark, ins, del, add, rem, lang, useDiffSyntax (Expressive Code).]
		`);
		expect(() => classify('yaml', 'term="logs"')).toThrowErrorMatchingInlineSnapshot(`
			[FenceMetaError: Invalid code block meta in content/docs/lab-check.mdx, code block 4 (\`\`\`yaml): "term" applies only to blocks with a button: shell blocks (bash, sh, shell) or blocks with title="file".
			Valid keys: norun, term="name", interrupt, exit=N, expect="regex", timeout=N, until="regex", open=PORT (podlab); title, frame, wrap, preserveIndent, hangingIndent, mark, ins, del, add, rem, lang, useDiffSyntax (Expressive Code).]
		`);
		expect(() => classify('c', 'title="a.c" exit=1')).toThrowErrorMatchingInlineSnapshot(`
			[FenceMetaError: Invalid code block meta in content/docs/lab-check.mdx, code block 4 (\`\`\`c): "exit" applies only to shell blocks; this block writes a file.
			Valid keys: norun, term="name", interrupt, exit=N, expect="regex", timeout=N, until="regex", open=PORT (podlab); title, frame, wrap, preserveIndent, hangingIndent, mark, ins, del, add, rem, lang, useDiffSyntax (Expressive Code).]
		`);
	});

	it('rejects a file title that is not a safe relative path', () => {
		for (const title of ['../etc/passwd', '/etc/passwd', 'a b.c', "it's.c", 'dir/../x.c', '-rf']) {
			expect(() => classify('c', `title="${title}"`), title).toThrow(/must be a relative file path/);
		}
	});
});

describe('describeValidKeys', () => {
	it('lists podlab keys with their syntax, then the Expressive Code keys', () => {
		expect(describeValidKeys(['title', 'frame'])).toBe(
			'Valid keys: norun, term="name", interrupt, exit=N, expect="regex", timeout=N, until="regex", open=PORT (podlab); title, frame (Expressive Code).',
		);
	});
});
