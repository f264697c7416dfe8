import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunLog, transcriptCsv, type RunEntry } from '../../../server/class/run-log.ts';

const file = () => join(mkdtempSync(join(tmpdir(), 'podlab-runs-')), 'runs.jsonl');
const entry = (fields: Partial<RunEntry>): RunEntry => ({ student: 's1', block: null, command: 'ls', page: null, term: 'main', exit: 0, at: 0, ...fields });

describe('RunLog', () => {
	it('appends runs and reads them back, latest per block for the board', async () => {
		const path = file();
		const log = await RunLog.open(path);
		log.record(entry({ block: 'a:1', exit: 1, at: 1 }));
		log.record(entry({ block: 'a:1', exit: 0, at: 2 }));
		log.record(entry({ student: 's2', block: 'a:2', term: 'logs', at: 3 }));
		await log.flush();
		const again = await RunLog.open(path);
		expect(again.of('s1').map((run) => run.exit)).toEqual([1, 0]);
		expect(again.progress().get('s1')?.get('a:1')).toEqual({ exit: 0, at: 2 });
		expect(readFileSync(path, 'utf8').split('\n').filter(Boolean)).toHaveLength(3);
	});

	it('keeps typed commands in the transcript and off the board', async () => {
		const log = await RunLog.open(file());
		log.record(entry({ block: 'a:1', command: 'echo block', at: 1 }));
		log.record(entry({ command: 'echo typed', exit: 3, at: 2 }));
		expect(log.of('s1').map((run) => [run.block, run.command, run.exit])).toEqual([
			['a:1', 'echo block', 0],
			[null, 'echo typed', 3],
		]);
		expect([...log.progress().get('s1')!.keys()]).toEqual(['a:1']);
	});

	it('reads a log written before commands and pages were recorded', async () => {
		const path = file();
		writeFileSync(path, `${JSON.stringify({ student: 's1', block: 'b', term: 'main', exit: 0, at: 1 })}\n`);
		expect((await RunLog.open(path)).of('s1')).toEqual([{ student: 's1', block: 'b', command: '', page: null, term: 'main', exit: 0, at: 1 }]);
	});

	it('skips a last line cut short by a crash, and refuses a damaged file', async () => {
		const path = file();
		writeFileSync(path, `${JSON.stringify({ student: 's1', block: 'b', term: 'main', exit: 0, at: 1 })}\n{"student":"s1","blo`);
		expect((await RunLog.open(path)).of('s1')).toHaveLength(1);
		writeFileSync(path, `{"student":1}\n`);
		await expect(RunLog.open(path)).rejects.toThrow(`${path}, line 1: not a run entry`);
	});
});

describe('transcriptCsv', () => {
	it('writes CSV that quotes what needs it', () => {
		expect(transcriptCsv([entry({ block: 'a,"b"', page: '/chapters/pause/', command: 'echo "a, b"\necho c', exit: 2 })])).toBe(
			'time,page,block,terminal,exit,command\n1970-01-01T00:00:00.000Z,/chapters/pause/,"a,""b""",main,2,"echo ""a, b""\necho c"\n',
		);
	});

	it('leaves typed commands without a block, and unknown pages, empty', () => {
		expect(transcriptCsv([entry({ command: 'ls -l' })])).toBe('time,page,block,terminal,exit,command\n1970-01-01T00:00:00.000Z,,,main,0,ls -l\n');
	});

	it('keeps a spreadsheet from reading a command as a formula', () => {
		const commands = ['=1+2', '+1', '-x', '@SUM(A1)', '\tls', '=HYPERLINK("http://x","y")'];
		const cells = transcriptCsv(commands.map((command) => entry({ command })))
			.split('\n')
			.slice(1, -1)
			.map((row) => row.split(',').slice(5).join(','));
		expect(cells).toEqual(["'=1+2", "'+1", "'-x", "'@SUM(A1)", "'\tls", `"'=HYPERLINK(""http://x"",""y"")"`]);
	});
});
