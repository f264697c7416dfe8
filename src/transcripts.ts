/**
 * Recorded transcripts: what each block of a chapter printed on a real lab, written by
 * `npm run docs:record` and shown on the page under the block ("Recorded output — podman lab, date").
 * Build-time and tooling code (Node), never shipped to the browser.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';

export const transcriptSchema = z.strictObject({
	chapter: z.string(),
	profile: z.string(),
	recordedAt: z.iso.datetime(),
	/** What the lab was: kernel, tool versions (from `lab:status`). */
	lab: z.record(z.string(), z.unknown()),
	blocks: z.array(
		z.strictObject({
			id: z.string(),
			command: z.string(),
			output: z.string(),
			exit: z.number().int().nullable(),
		}),
	),
});

export type Transcript = z.infer<typeof transcriptSchema>;

/** content/transcripts/<chapter>.<profile>.json, e.g. content/transcripts/chapters/pause.podman.json */
export function transcriptPath(transcriptsDir: string, chapter: string, profile: string): string {
	return join(transcriptsDir, `${chapter}.${profile}.json`);
}

/** Writes atomically, so the site build never reads half a file. */
export async function writeTranscript(path: string, transcript: Transcript): Promise<void> {
	await mkdir(dirname(path), { recursive: true });
	const temporary = `${path}.${process.pid}.tmp`;
	await writeFile(temporary, `${JSON.stringify(transcriptSchema.parse(transcript), null, '\t')}\n`);
	await rename(temporary, path);
}

/** One block's recorded run, as the page shows it. */
export interface RecordedBlock {
	output: string;
	exit: number | null;
	profile: string;
	recordedAt: string;
}

/**
 * Every recorded block of `profile` under `transcriptsDir`, by block id. A transcript that does
 * not match the schema stops the build with its path: it was edited by hand or by an older runner.
 */
export function loadRecordedBlocks(transcriptsDir: string, profile: string): Map<string, RecordedBlock> {
	const recorded = new Map<string, RecordedBlock>();
	const suffix = `.${profile}.json`;
	let files: string[];
	try {
		files = readdirSync(transcriptsDir, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith(suffix));
	} catch {
		return recorded;
	}
	for (const file of files.sort()) {
		const path = join(transcriptsDir, file);
		const parsed = transcriptSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
		if (!parsed.success) {
			throw new Error(`${path} is not a valid transcript (${parsed.error.issues[0]?.message}); record it again with npm run docs:record`);
		}
		for (const block of parsed.data.blocks) {
			recorded.set(block.id, { output: block.output, exit: block.exit, profile: parsed.data.profile, recordedAt: parsed.data.recordedAt });
		}
	}
	return recorded;
}
