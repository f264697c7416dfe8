/**
 * Expressive Code plugin: a **Run** button on every shell block, **Write to lab** on a block with a
 * file title, both validated from the fence meta at build time (see `fence-meta.ts`).
 *
 * The button carries everything the browser needs in `data-*` attributes; one small jsModule turns a
 * click into a `podlab:run` event that the terminal panel carries out. A page therefore ships no
 * terminal code until a reader actually runs something.
 */
import { readFileSync } from 'node:fs';
import { transformSync } from 'esbuild';
import { relative, resolve } from 'node:path';
import { definePlugin, type ExpressiveCodeBlock } from '@astrojs/starlight/expressive-code';
import { h, s } from '@astrojs/starlight/expressive-code/hast';
import { clientMessage, DEFAULT_TERMINAL } from '../protocol.ts';
import { blockId } from './block-id.ts';
import { ENCODED_NEWLINE, RUN_ATTRIBUTES, RUN_EVENT, STATUS_ATTRIBUTE } from '../terminal/page/run-request.ts';
import {
	DEFAULT_SHELL_LANGUAGES,
	EXPRESSIVE_CODE_META_KEYS,
	FenceMetaError,
	classifyBlock,
	type MetaOptionLike,
	type RunnableBlock,
} from './fence-meta.ts';
import { loadRecordedBlocks } from '../transcripts.ts';
import { LAB_PROFILES } from '../protocol-values.ts';
import { labsOfBlock } from './block-labs.ts';
import { recordedOutputStyles, renderVerification, verificationStyles } from './recorded-output.ts';
import { runButtonStyles } from './run-button-styles.ts';
import { writeFileCommand } from './write-to-lab.ts';

export interface RunButtonOptions {
	/**
	 * Languages whose blocks get a Run button.
	 * @default ["bash", "sh", "shell"]
	 */
	shellLanguages?: readonly string[];
	/**
	 * Fence-meta keys read by other Expressive Code plugins: accepted and left alone. Add a key here
	 * when you enable a plugin that reads one (e.g. `showLineNumbers`).
	 * @default the keys of the plugins Starlight enables (title, frame, mark, ins, del, …)
	 */
	otherMetaKeys?: readonly string[];
	/**
	 * The chapters' root. Block ids are file paths relative to it ("lab-check:3"), so the gateway's
	 * `done` and the doc-test runner's reports name blocks the same way.
	 * @default "content/docs" in the current working directory
	 */
	docsDir?: string;
	/**
	 * Where `npm run docs:record` writes transcripts. Under a block the page shows, for each lab that
	 * runs it, the recorded run there, or that lab's verification status (kubernetes: checked
	 * offline, not yet run on a node).
	 * @default "content/transcripts" in the current working directory
	 */
	transcriptsDir?: string;
}

/** The browser module, as text; see `run-button-client.js`. */
const clientSource = readFileSync(new URL('./run-button-client.js', import.meta.url), 'utf8');

/**
 * The module every page with code blocks loads, minified here: Expressive Code ships a jsModule as
 * given, and the source's comments would be most of its weight.
 */
const clientModule = transformSync(
	`try{${clientSource}
installRunButtons(${JSON.stringify({
		eventName: RUN_EVENT,
		attributes: RUN_ATTRIBUTES,
		statusAttribute: STATUS_ATTRIBUTE,
		encodedNewline: ENCODED_NEWLINE,
	})});}catch(error){console.error('[podlab] Run buttons failed:',error)}`,
	{ loader: 'js', format: 'esm', minify: true, target: 'es2022', charset: 'utf8' },
).code;

/** A block that gets a button, with its id and the exact text to type. */
interface RenderedRun extends RunnableBlock {
	block: string;
	code: string;
}

function locationOf(codeBlock: ExpressiveCodeBlock): { file: string; index: number; path: string | undefined } {
	const path = codeBlock.parentDocument?.sourceFilePath;
	const index = (codeBlock.parentDocument?.positionInDocument?.groupIndex ?? 0) + 1;
	return { file: path ? relative(process.cwd(), path) || path : '(inline code block)', index, path };
}

/** A fresh icon per block: hast nodes are mutable, one shared node would be one node in many trees. */
function icon(action: RenderedRun['action']) {
	const path =
		action === 'write'
			? s('path', { d: 'M8 1.5v8m0 0 3.5-3.5M8 9.5 4.5 6M2 11.5v3h12v-3', fill: 'none', stroke: 'currentColor', 'stroke-width': 1.6 })
			: s('path', { d: 'M4 2.5v11l9-5.5z', fill: 'currentColor' });
	return s('svg', { viewBox: '0 0 16 16', width: 14, height: 14, 'aria-hidden': 'true', focusable: 'false' }, [path]);
}

function renderToolbar(run: RenderedRun) {
	const inOtherTerminal = run.term !== DEFAULT_TERMINAL;
	const visibleLabel = run.action === 'write' ? 'Write to lab' : inOtherTerminal ? `Run in ${run.term}` : 'Run';
	// The hidden part completes the accessible name without changing the visible label's start.
	const hiddenLabel = run.action === 'write' ? ` as ${run.file} (terminal ${run.term})` : inOtherTerminal ? '' : ' in terminal main';
	// A plain link: the gateway's /api/preview answers with the way into the lab's preview (no script).
	const open = run.open
		? [
				h('a', { className: ['podlab-open-link'], href: `/api/preview?port=${run.open}`, target: '_blank', rel: 'noopener noreferrer' }, [
					h('span', 'Open in browser'),
					h('span', { className: ['podlab-sr-only'] }, ` (port ${run.open} of your lab, in a new tab)`),
				]),
			]
		: [];
	return h('div', { className: ['podlab-run'] }, [
		h('span', { className: ['podlab-run-status'], role: 'status', [STATUS_ATTRIBUTE]: '' }),
		...open,
		h(
			'button',
			{
				type: 'button',
				className: ['podlab-run-button'],
				[RUN_ATTRIBUTES.action]: run.action,
				[RUN_ATTRIBUTES.code]: run.code.replaceAll('\n', ENCODED_NEWLINE),
				[RUN_ATTRIBUTES.block]: run.block,
				[RUN_ATTRIBUTES.term]: run.term,
				...(run.interrupt ? { [RUN_ATTRIBUTES.interrupt]: '' } : {}),
				...(run.test.until ? { [RUN_ATTRIBUTES.until]: run.test.until } : {}),
			},
			[
				icon(run.action),
				h('span', visibleLabel),
				...(hiddenLabel ? [h('span', { className: ['podlab-sr-only'] }, hiddenLabel)] : []),
			],
		),
	]);
}

/** The Run / Write to lab plugin. Add it with `starlight({ expressiveCode: { plugins: [pluginRunButton()] } })`. */
export function pluginRunButton(options: RunButtonOptions = {}) {
	const docsDir = resolve(options.docsDir ?? 'content/docs');
	const shellLanguages = options.shellLanguages ?? DEFAULT_SHELL_LANGUAGES;
	const otherKeys = options.otherMetaKeys ?? EXPRESSIVE_CODE_META_KEYS;
	const runs = new WeakMap<ExpressiveCodeBlock, RenderedRun>();
	const transcriptsDir = resolve(options.transcriptsDir ?? 'content/transcripts');
	const recorded = new Map(LAB_PROFILES.map((profile) => [profile as string, loadRecordedBlocks(transcriptsDir, profile)]));

	return definePlugin({
		name: 'podlab Run button',
		baseStyles: (context) => runButtonStyles(context) + recordedOutputStyles + verificationStyles,
		jsModules: [clientModule],
		hooks: {
			// Everything is decided here, where the code is still exactly the text in the chapter (later
			// hooks of other plugins may change it, e.g. Frames moves a file-name comment into the title):
			// Run types what the doc-test runner types.
			preprocessMetadata({ codeBlock }) {
				const location = locationOf(codeBlock);
				const spec = classifyBlock({
					language: codeBlock.language,
					title: codeBlock.metaOptions.getString('title'),
					options: codeBlock.metaOptions.list() as MetaOptionLike[],
					location,
					shellLanguages,
					otherKeys,
				});
				if (!spec) return;
				const block = blockId(location.path, location.index, docsDir);
				const code = spec.action === 'write' ? writeFileCommand(spec.file!, codeBlock.code) : codeBlock.code.trimEnd();
				// Checked against the wire protocol itself, so a block the gateway would refuse fails the build.
				const message = clientMessage.safeParse({ t: 'run', code, block });
				if (!message.success) {
					const issue = message.error.issues[0]!;
					throw new FenceMetaError(
						`Code block ${location.index} in ${location.file} cannot be run: "${issue.path.join('.')}": ${issue.message}. ` +
							'Split the block, or mark it `norun`.',
					);
				}
				runs.set(codeBlock, { ...spec, block, code });
			},
			async postprocessRenderedBlock({ codeBlock, renderData }) {
				const run = runs.get(codeBlock);
				if (!run) return;
				renderData.blockAst.children.push(renderToolbar(run));
				const labs = await labsOfBlock(locationOf(codeBlock).path, run.block, docsDir);
				renderData.blockAst.children.push(...renderVerification(labs.map((profile) => ({ profile, recorded: recorded.get(profile)?.get(run.block) }))));
			},
		},
	});
}
