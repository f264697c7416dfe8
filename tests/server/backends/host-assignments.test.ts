import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HostAssignments, PoolFullError } from '../../../server/backends/ssh/host-assignments.ts';

const POOL = { hosts: ['podlab@10.0.0.11:22', 'podlab@10.0.0.12:22'], studentsPerHost: 1 };

function tempFile(): string {
	return join(mkdtempSync(join(tmpdir(), 'podlab-assignments-')), 'state', 'host-assignments.json');
}

describe('HostAssignments', () => {
	it('gives each student a host of their own and keeps it across a restart', async () => {
		const file = tempFile();
		const first = await HostAssignments.open(file, POOL);
		expect(await first.assign('alice')).toBe('podlab@10.0.0.11:22');
		expect(await first.assign('bob')).toBe('podlab@10.0.0.12:22');
		expect(await first.assign('alice')).toBe('podlab@10.0.0.11:22');

		const restarted = await HostAssignments.open(file, POOL);
		expect(restarted.hostOf('bob')).toBe('podlab@10.0.0.12:22');
		expect(await restarted.assign('bob')).toBe('podlab@10.0.0.12:22');
		expect(restarted.list().map(({ student, host }) => [student, host])).toEqual([
			['alice', 'podlab@10.0.0.11:22'],
			['bob', 'podlab@10.0.0.12:22'],
		]);
	});

	it('refuses a student when every host is taken, with a code and a plain message', async () => {
		const assignments = await HostAssignments.open(tempFile(), POOL);
		await assignments.assign('alice');
		await assignments.assign('bob');
		const error = await assignments.assign('carol').catch((error: unknown) => error);
		expect(error).toBeInstanceOf(PoolFullError);
		expect(error).toMatchObject({ code: 'LAB_ERR_POOL_FULL', message: 'Every lab host is taken: there are more students than lab hosts. Tell your instructor.' });
		expect(assignments.hostOf('carol')).toBeUndefined();
	});

	it('shares hosts evenly when they take several students, and frees a seat on release', async () => {
		const assignments = await HostAssignments.open(tempFile(), { ...POOL, studentsPerHost: 2 });
		const hosts = [];
		for (const student of ['a', 'b', 'c', 'd']) hosts.push(await assignments.assign(student));
		expect(hosts).toEqual(['podlab@10.0.0.11:22', 'podlab@10.0.0.12:22', 'podlab@10.0.0.11:22', 'podlab@10.0.0.12:22']);
		await expect(assignments.assign('e')).rejects.toThrow(PoolFullError);
		expect(await assignments.release('b')).toBe(true);
		expect(await assignments.release('b')).toBe(false);
		expect(await assignments.assign('e')).toBe('podlab@10.0.0.12:22');
	});

	it('gives two terminals of a new student, asked at once, the same host', async () => {
		const assignments = await HostAssignments.open(tempFile(), POOL);
		const [main, logs] = await Promise.all([assignments.assign('alice'), assignments.assign('alice')]);
		expect(main).toBe(logs);
		expect(assignments.list()).toHaveLength(1);
	});

	it('moves a student whose host left the pool', async () => {
		const file = tempFile();
		await (await HostAssignments.open(file, POOL)).assign('alice');
		const smaller = await HostAssignments.open(file, { hosts: ['podlab@10.0.0.12:22'], studentsPerHost: 1 });
		expect(smaller.hostOf('alice')).toBe('podlab@10.0.0.11:22');
		expect(await smaller.assign('alice')).toBe('podlab@10.0.0.12:22');
	});

	it('writes the file atomically: whole JSON, mode 600, no temporary file left', async () => {
		const file = tempFile();
		const assignments = await HostAssignments.open(file, POOL);
		await Promise.all([assignments.assign('alice'), assignments.assign('bob')]);
		const saved = JSON.parse(readFileSync(file, 'utf8'));
		expect(saved).toMatchObject({ version: 1, assignments: { alice: { host: 'podlab@10.0.0.11:22' }, bob: { host: 'podlab@10.0.0.12:22' } } });
		expect(statSync(file).mode & 0o777).toBe(0o600);
		expect(readdirSync(join(file, '..'))).toEqual(['host-assignments.json']);
	});

	it('refuses to start over from a damaged file, saying what to do', async () => {
		const file = tempFile();
		await (await HostAssignments.open(file, POOL)).assign('alice');
		writeFileSync(file, '{"version":1,"assignments":{"alice":');
		await expect(HostAssignments.open(file, POOL)).rejects.toThrow(
			new RegExp(`^host assignments: ${file} is not a podlab assignments file \\(.*\\); fix it, or move it away to assign hosts afresh$`),
		);
	});
});
