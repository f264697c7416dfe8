/**
 * detectLab() (behind GET /api/lab) and the lab:status CLI: the right profile, never a throw,
 * always quick.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../lab/lib/exec.ts';
import { detectLab, formatLabStatus, labStatusSchema } from '../../lab/status.ts';
import { assertLabUsable, NODE, podmanLabProblem, REPO_ROOT, skipReason } from './lab-required.ts';

const savedEnv = { PATH: process.env.PATH, PODLAB_LAB_PROFILE: process.env.PODLAB_LAB_PROFILE };

afterEach(() => {
	for (const [name, value] of Object.entries(savedEnv)) {
		if (value === undefined) delete process.env[name];
		else process.env[name] = value;
	}
});

describe('detectLab', () => {
	it('returns a status that matches its schema, in under a second', async () => {
		const started = performance.now();
		const status = await detectLab();
		expect(performance.now() - started).toBeLessThan(1_000);
		expect(labStatusSchema.parse(status)).toEqual(status);
		expect(status.checks.every((check) => check.ok || check.fix)).toBe(true);
	});

	it('does not throw when no lab tool can be found, and says there is no lab', async () => {
		process.env.PATH = '/nonexistent';
		delete process.env.PODLAB_LAB_PROFILE;
		const status = await detectLab();
		expect(status.profile).toBe('none');
		expect(status.ready).toBe(false);
		expect(status.summary).toMatch(/No lab on this machine/);
	});

	it('takes the profile from PODLAB_LAB_PROFILE and checks that profile', async () => {
		process.env.PODLAB_LAB_PROFILE = 'kubernetes';
		const status = await detectLab();
		expect(status.profile).toBe('kubernetes');
		expect(status.profileSource).toBe('env');
		expect(status.checks.map((check) => check.id)).toEqual(expect.arrayContaining(['kubeconfig', 'kubectl', 'nodes', 'crictl']));
	});

	it('reports a wrong PODLAB_LAB_PROFILE as a failed check with the valid values', async () => {
		process.env.PODLAB_LAB_PROFILE = 'docker';
		const status = await detectLab();
		expect(status.profile).toBe('none');
		expect(status.checks.find((check) => check.id === 'profile')).toMatchObject({
			ok: false,
			detail: '"docker" is not a lab profile',
			fix: 'set PODLAB_LAB_PROFILE to one of podman, kubernetes, none, or unset it to detect the profile',
		});
	});
});

const problem = await podmanLabProblem();
const skip = skipReason(problem);

describe.skipIf(skip !== null)(`detectLab on the podman lab${skip ? ` (skipped: ${skip})` : ''}`, () => {
	beforeAll(() => assertLabUsable(problem));

	it('detects the podman profile, ready, with versions and the env file path', async () => {
		delete process.env.PODLAB_LAB_PROFILE;
		const status = await detectLab();
		expect(status, formatLabStatus(status)).toMatchObject({ profile: 'podman', profileSource: 'detected', ready: true });
		expect(status.versions.podman).toMatch(/^\d+\.\d+/);
		expect(status.paths).toEqual({
			containersConf: '/var/lib/podlab/containers.conf',
			envFile: '/var/lib/podlab/lab.env',
			workDir: '/var/lib/podlab/work',
		});
	});

	it('prints it from the CLI, readable and as JSON, exiting 0 when ready', async () => {
		const human = await run(NODE, ['lab/status.ts'], { cwd: REPO_ROOT, timeoutMs: 10_000 });
		expect(human.code).toBe(0);
		expect(human.stdout).toMatch(/^Lab profile: podman \(detected\) — ready/);
		expect(human.stdout).toContain('✓ Image alpine:3.2 (docker.io/library/alpine:3.2)');

		const json = await run(NODE, ['lab/status.ts', '--json'], { cwd: REPO_ROOT, timeoutMs: 10_000 });
		expect(json.code).toBe(0);
		expect(labStatusSchema.parse(JSON.parse(json.stdout)).profile).toBe('podman');
	});
});
