/**
 * `POST /api/check/<id>` on a real gateway with the local backend: the check script runs for real
 * (bash, outside the reader's terminals), its verdict and message come back, and the result counts
 * like a block's. The same checks in a reader's Incus lab: tests/docs/exercises-in-labs.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';

const exercises = mkdtempSync(join(tmpdir(), 'podlab-checks-'));
const workdir = mkdtempSync(join(tmpdir(), 'podlab-check-work-'));
const SCRIPTS: Record<string, string> = {
	'marker-made': 'test -f marker && exit 0\necho "There is no file called marker yet."\nexit 1\n',
	'says-profile': 'echo "profile=$PODLAB_LAB_PROFILE"; exit 1\n',
	'slow-solved': 'sleep 2; exit 0\n',
	'never-ends': 'sleep 61.5 # podlab-check-never-ends\n',
	'hostile-output': `printf '\\033]0;owned\\007\\033[2J%s\\n' "$(head -c 100000 /dev/zero | tr '\\0' y)"; exit 1\n`,
};

let gateway: RunningGateway;
let reader: TestClient;
beforeAll(async () => {
	for (const [id, script] of Object.entries(SCRIPTS)) writeFileSync(join(exercises, `${id}.sh`), script);
	gateway = await startGateway({ PODLAB_EXERCISES_DIR: exercises, PODLAB_WORKDIR: workdir });
	reader = await TestClient.connect(gateway);
});
afterAll(async () => {
	reader?.close();
	await gateway?.stop();
	rmSync(exercises, { recursive: true, force: true });
	rmSync(workdir, { recursive: true, force: true });
});

async function check(id: string, { cookie = reader.cookie, origin = gateway.origin }: { cookie?: string | null; origin?: string } = {}) {
	const response = await fetch(`${gateway.url}api/check/${id}`, { method: 'POST', headers: { origin, ...(cookie ? { cookie } : {}) } });
	return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('checking an exercise', () => {
	it('says what is still wrong, then ✓ once the reader did it in their terminal, and counts it like a block', async () => {
		expect(await check('marker-made')).toMatchObject({ status: 200, body: { id: 'marker-made', ok: false, message: 'There is no file called marker yet.' } });
		await reader.run('touch marker', 'chapters/pause:9');
		const solved = await check('marker-made');
		expect(solved).toMatchObject({ status: 200, body: { id: 'marker-made', ok: true, message: 'Solved.' } });
		expect(solved.body.ms).toEqual(expect.any(Number));
		const results = (await (await fetch(`${gateway.url}api/results`, { headers: { cookie: reader.cookie } })).json()) as { blocks: Record<string, { exit: number }> };
		expect(results.blocks['exercise:marker-made']).toMatchObject({ exit: 0 });
		// The check ran outside the reader's terminal: nothing of it shows there.
		expect(reader.plainText).not.toContain('There is no file called marker');
	});

	it('tells the script the lab’s profile', async () => {
		expect((await check('says-profile')).body.message).toMatch(/^profile=(podman|kubernetes|none)$/);
	});

	it('runs only the checks it has, for a reader of its own pages', async () => {
		expect(await check('no-such-exercise')).toMatchObject({ status: 404, body: { code: 'LAB_ERR_NOT_FOUND' } });
		expect(await check('../../etc/passwd')).toMatchObject({ status: 404 });
		expect(await check('marker-made', { cookie: null })).toMatchObject({ status: 401, body: { code: 'LAB_ERR_NO_READER' } });
		expect(await check('marker-made', { origin: 'http://evil.example' })).toMatchObject({ status: 403, body: { code: 'LAB_ERR_ORIGIN' } });
	});

	it('runs one check at a time per reader, and another reader’s at the same time', async () => {
		const other = await TestClient.connect(gateway);
		const [first, second, others] = await Promise.all([check('slow-solved'), check('slow-solved'), check('slow-solved', { cookie: other.cookie })]);
		expect([first.status, second.status].sort()).toEqual([200, 409]);
		expect([first, second].find(({ status }) => status === 409)!.body).toMatchObject({ code: 'LAB_ERR_CHECK_RUNNING' });
		expect(others).toMatchObject({ status: 200, body: { ok: true } });
		other.close();
	});

	it('takes only plain text of bounded length from what the script printed', async () => {
		const { body } = await check('hostile-output');
		expect(body.ok).toBe(false);
		expect(body.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
		expect([...(body.message as string)].length).toBeLessThanOrEqual(300);
	});

	it('kills a check that takes longer than 20 s, with what it started', async () => {
		const started = performance.now();
		expect(await check('never-ends')).toMatchObject({ status: 200, body: { ok: false, message: 'The check took longer than 20 s.' } });
		expect(performance.now() - started).toBeLessThan(26_000);
		const left = () => execFileSync('pgrep', ['-f', 'sleep 61.5'], { encoding: 'utf8' });
		expect(left).toThrow();
	}, 40_000);
});
