import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunLog, transcriptCsv } from '../../server/class/run-log.ts';

const file = () => join(mkdtempSync(join(tmpdir(), 'podlab-runs-')), 'runs.jsonl');

describe('RunLog', () => {
	it('appends runs and reads them back, latest per block for the board', async () => {
		const path = file();
		const log = await RunLog.open(path);
		log.record({ student: 's1', block: 'a:1', term: 'main', exit: 1, at: 1 });
		log.record({ student: 's1', block: 'a:1', term: 'main', exit: 0, at: 2 });
		log.record({ student: 's2', block: 'a:2', term: 'logs', exit: 0, at: 3 });
		await log.flush();
		const again = await RunLog.open(path);
		expect(again.of('s1').map((run) => run.exit)).toEqual([1, 0]);
		expect(again.progress().get('s1')?.get('a:1')).toEqual({ exit: 0, at: 2 });
		expect(readFileSync(path, 'utf8').split('\n').filter(Boolean)).toHaveLength(3);
	});

	it('skips a last line cut short by a crash, and refuses a damaged file', async () => {
		const path = file();
		writeFileSync(path, `${JSON.stringify({ student: 's1', block: 'b', term: 'main', exit: 0, at: 1 })}\n{"student":"s1","blo`);
		expect((await RunLog.open(path)).of('s1')).toHaveLength(1);
		writeFileSync(path, `{"student":1}\n`);
		await expect(RunLog.open(path)).rejects.toThrow(`${path}, line 1: not a run entry`);
	});

	it('writes CSV that quotes what needs it', () => {
		expect(transcriptCsv([{ student: 's', block: 'a,"b"', term: 'main', exit: 2, at: 0 }])).toBe(
			'time,block,terminal,exit\n1970-01-01T00:00:00.000Z,"a,""b""",main,2\n',
		);
	});
});
