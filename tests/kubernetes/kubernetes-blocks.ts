/**
 * The blocks of the kubernetes profile (its tab, and the blocks common to both labs), parsed as
 * bash by tree-sitter's bash grammar, for the offline checks: which commands they call, which
 * arguments they pass, which YAML they feed to `kubectl apply`. No cluster is needed for any of it.
 */
import { createRequire } from 'node:module';
import { Language, Parser, type Node } from 'web-tree-sitter';
import { collectBlocks, type DocBlock } from '../../src/chapters/collect-blocks.ts';
import { chapterFile, DOCS_DIR, listChapters } from '../doctest/chapters.ts';

export const PROFILE = 'kubernetes';

/** Every block the kubernetes profile runs, chapter by chapter, in page order. */
export async function kubernetesBlocks(): Promise<DocBlock[]> {
	const blocks: DocBlock[] = [];
	for (const chapter of await listChapters()) blocks.push(...(await collectBlocks(chapterFile(chapter), DOCS_DIR, PROFILE)));
	return blocks.filter((block) => block.action === 'run');
}

let parser: Parser | null = null;

/** A bash parser (tree-sitter-bash's WebAssembly build; no native addon). */
export async function bashParser(): Promise<Parser> {
	if (!parser) {
		await Parser.init();
		const grammar = createRequire(import.meta.url).resolve('tree-sitter-bash/tree-sitter-bash.wasm');
		parser = new Parser();
		parser.setLanguage(await Language.load(grammar));
	}
	return parser;
}

/** One simple command of a block: its name and its arguments as written (quotes included). */
export interface ShellCommand {
	name: string;
	args: string[];
	/** The bodies of here-documents fed to it (`cat <<EOF | kubectl apply -f -` feeds `cat`). */
	heredocs: string[];
	/** The commands of the same pipeline, in order (this one included). */
	pipeline: ShellCommand[];
}

function descendants(node: Node, type: string): Node[] {
	return node.descendantsOfType(type).filter((found): found is Node => found !== null);
}

/** Every simple command in `source`, in source order, nested ones (`$(…)`, loops) included. */
export async function shellCommands(source: string): Promise<ShellCommand[]> {
	const tree = (await bashParser()).parse(source);
	if (!tree) throw new Error('tree-sitter could not parse the block');
	const commands = new Map<number, ShellCommand>();
	for (const node of descendants(tree.rootNode, 'command')) {
		const name = node.childForFieldName('name');
		if (!name) continue;
		const args = node.childrenForFieldName('argument').filter((arg): arg is Node => arg !== null).map((arg) => arg.text);
		const heredocs: string[] = [];
		// A here-document belongs to the redirected statement around its command.
		const statement = node.parent?.type === 'redirected_statement' ? node.parent : null;
		if (statement) for (const body of descendants(statement, 'heredoc_body')) heredocs.push(body.text);
		commands.set(node.id, { name: name.text, args, heredocs, pipeline: [] });
	}
	for (const pipeline of descendants(tree.rootNode, 'pipeline')) {
		const members = pipeline.namedChildren
			.filter((child): child is Node => child !== null)
			.map((child) => (child.type === 'redirected_statement' ? child.namedChildren.find((inner) => inner?.type === 'command') : child))
			.map((child) => (child ? commands.get(child.id) : undefined))
			.filter((command): command is ShellCommand => command !== undefined);
		for (const member of members) member.pipeline = members;
	}
	for (const command of commands.values()) if (command.pipeline.length === 0) command.pipeline = [command];
	// `cat <<EOF | kubectl apply -f -`: the grammar puts the pipe after the here-document's start,
	// inside the redirect; the writer and the commands it pipes into make one pipeline all the same.
	for (const redirect of descendants(tree.rootNode, 'heredoc_redirect')) {
		const writer = redirect.parent?.namedChildren.find((child) => child?.type === 'command');
		const first = writer ? commands.get(writer.id) : undefined;
		if (!first) continue;
		const readers = descendants(redirect, 'command').map((node) => commands.get(node.id)).filter((command): command is ShellCommand => command !== undefined);
		const pipeline = [first, ...readers];
		for (const member of pipeline) member.pipeline = pipeline;
	}
	return [...commands.values()];
}

/** Does the parse of `source` contain syntax errors, by tree-sitter's reading? */
export async function hasParseErrors(source: string): Promise<boolean> {
	const tree = (await bashParser()).parse(source);
	return !tree || tree.rootNode.hasError;
}
