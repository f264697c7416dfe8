/**
 * The podman lab for real: setup caching, the images, and the article's proofs on `podman kube
 * play` of its own YAML — infra container, shared netns, the 100Mi cgroup limit, the pod IP
 * surviving a kill of the app, the OOM kill, the nginx + sidecar pod — then lab:reset.
 * One file, in order: these tests share the host's podman state.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, type RunResult } from '../../lab/lib/exec.ts';
import { detectCgroupLayout } from '../../lab/lib/host.ts';
import { CONTAINERS_CONF_PATH, LAB_WORK_DIR } from '../../lab/lib/paths.ts';
import { assertLabUsable, NODE, podmanLabProblem, REPO_ROOT, skipReason } from './lab-required.ts';

const problem = await podmanLabProblem();
const skip = skipReason(problem);
const labEnv = { ...process.env, CONTAINERS_CONF: CONTAINERS_CONF_PATH };
const ALPINE_YAML = join(REPO_ROOT, 'lab/manifests/alpine-deployment.yaml');
const NGINX_YAML = join(REPO_ROOT, 'lab/manifests/nginx-deployment.yaml');

/**
 * Where podman runs: a scratch directory (made before the first test), not the checkout. A
 * container's conmon keeps podman's directory and leaves an empty file named `oom` there after an OOM kill.
 */
let scratch = '';

/** Runs podman as a lab shell would (with the podlab containers.conf); fails the test on error. */
async function podman(args: string[], input?: string): Promise<string> {
	const result = await run('podman', args, { cwd: scratch, env: labEnv, input, timeoutMs: 60_000 });
	expect(result.code, `podman ${args.join(' ')} failed:\n${result.stderr}`).toBe(0);
	return result.stdout.trim();
}

async function inspect(container: string, format: string): Promise<string> {
	return podman(['inspect', '--format', format, container]);
}

/** Polls `probe` until it returns a value or `timeoutMs` passes. */
async function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 15_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe();
		if (value !== null) return value;
		if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 250));
	}
}

const output = (result: RunResult) => `${result.stdout}\n${result.stderr}`;

describe.skipIf(skip !== null)(`podman lab${skip ? ` (skipped: ${skip})` : ''}`, () => {

	beforeAll(async () => {
		assertLabUsable(problem);
		scratch = await mkdtemp(join(tmpdir(), 'podlab-lab-test-'));
		// Start from a clean lab whatever ran before.
		const reset = await run(NODE, ['lab/reset.ts'], { cwd: REPO_ROOT, timeoutMs: 120_000 });
		expect(reset.code, output(reset)).toBe(0);
	});

	afterAll(async () => {
		await run(NODE, ['lab/reset.ts'], { cwd: REPO_ROOT, timeoutMs: 120_000 });
		if (scratch) await rm(scratch, { recursive: true, force: true });
	});

	it('runs lab:setup again in seconds, rebuilding and installing nothing', async () => {
		const setup = await run(NODE, ['lab/setup.ts'], { cwd: REPO_ROOT, timeoutMs: 120_000 });
		expect(setup.code, output(setup)).toBe(0);
		// Steps 8 and on (labs of one's own) come after the podman lab's: count them, not their number.
		expect(setup.stdout).toMatch(/\[2\/\d+\] Installing Debian packages ✓ .*\(all \d+ installed\)/);
		for (const image of ['busybox', 'alpine:3.2', 'nginx:latest']) {
			expect(setup.stdout).toMatch(new RegExp(`Image ${image}.* ✓ .*up to date`));
		}
		expect(setup.stdout).toMatch(/\[7\/\d+\] Checking the lab end to end ✓/);
		// Not a TTY here: progress must stay line-oriented.
		expect(setup.stdout).not.toContain('\r');
		expect(setup.durationMs).toBeLessThan(20_000);
	});

	it('has the images under the names the article uses, local only, with plain os-release', async () => {
		const osRelease = (image: string) => podman(['run', '--rm', '--pull=never', '--network=none', image, 'cat', '/etc/os-release']);
		const alpine = await osRelease('alpine:3.2');
		expect(alpine).toContain('NAME="podlab alpine:3.2 stand-in"');
		expect(alpine).toContain('not Alpine Linux');
		expect(await osRelease('busybox')).toContain('podlab busybox');
		expect(await osRelease('nginx:latest')).toContain('Debian GNU/Linux');

		const nginxConfig = await podman(['run', '--rm', '--pull=never', '--network=none', 'nginx:latest', 'nginx', '-T']);
		expect(nginxConfig).toContain('root /usr/share/nginx/html;');
		expect(nginxConfig).toContain('access_log /var/log/nginx/access.log;');
		expect(await inspect('docker.io/library/nginx:latest', '{{json .Config.Cmd}}')).toBe('["nginx","-g","daemon off;"]');
	});

	it('plays the article\u2019s alpine Deployment: a pod with an infra container, one netns, a 100Mi limit', async () => {
		const played = await podman(['kube', 'play', '-'], await readFile(ALPINE_YAML, 'utf8'));
		expect(played).toMatch(/Pod:\n[0-9a-f]{64}/);

		const pod = await podman(['pod', 'ps', '--filter', 'label=app=alpine', '--format', '{{.Name}}']);
		expect(pod).toBe('alpine-deployment-pod-0');
		const containers = JSON.parse(await podman(['ps', '--filter', `pod=${pod}`, '--format', 'json'])) as Array<{
			Names: string[];
			IsInfra: boolean;
			Image: string;
			State: string;
		}>;
		expect(containers.map((container) => [container.IsInfra, container.State]).sort()).toEqual([
			[false, 'running'],
			[true, 'running'],
		]);
		const infra = containers.find((container) => container.IsInfra);
		expect(infra?.Image).toMatch(/podman-pause/);

		const app = 'alpine-deployment-pod-0-alpine';
		const infraId = await podman(['pod', 'inspect', pod, '--format', '{{.InfraContainerID}}']);
		// The article's "sandbox id" of the app container is the pause container's id, here too.
		expect(await inspect(app, '{{index .Config.Annotations "io.kubernetes.cri-o.SandboxID"}}')).toBe(infraId);

		const netnsPath = await inspect(app, '{{.NetworkSettings.SandboxKey}}');
		expect(await inspect(infraId, '{{.NetworkSettings.SandboxKey}}')).toBe(netnsPath);
		const netnsList = await run('ip', ['netns'], { timeoutMs: 5_000 });
		expect(netnsList.stdout).toContain(netnsPath.split('/').at(-1));

		const cgroupPath = await inspect(app, '{{.State.CgroupPath}}');
		const layout = await detectCgroupLayout();
		const limitFile = layout === 'v2' ? `/sys/fs/cgroup${cgroupPath}/memory.max` : `/sys/fs/cgroup/memory${cgroupPath}/memory.limit_in_bytes`;
		expect((await readFile(limitFile, 'utf8')).trim()).toBe('104857600');
	});

	it('keeps the pod IP when the app container is killed from the host (restartPolicy Always)', async () => {
		const app = 'alpine-deployment-pod-0-alpine';
		const infraId = await podman(['pod', 'inspect', 'alpine-deployment-pod-0', '--format', '{{.InfraContainerID}}']);
		const podIp = () => inspect(infraId, '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}');
		const ipBefore = await podIp();
		expect(ipBefore).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
		const pidBefore = Number(await inspect(app, '{{.State.Pid}}'));
		const restartsBefore = Number(await inspect(app, '{{.RestartCount}}'));

		process.kill(pidBefore, 'SIGKILL');
		const pidAfter = await waitFor('the app container to be restarted', async () => {
			const [status, pid, restarts] = (await inspect(app, '{{.State.Status}} {{.State.Pid}} {{.RestartCount}}')).split(' ');
			return status === 'running' && Number(restarts) > restartsBefore ? Number(pid) : null;
		});
		expect(pidAfter).not.toBe(pidBefore);
		expect(await podIp()).toBe(ipBefore);
		// The restarted container sees the same address inside the shared netns.
		expect(await podman(['exec', app, 'ip', '-4', 'addr', 'show', 'eth0'])).toContain(`inet ${ipBefore}/`);
	});

	it('OOM-kills a static 256 MiB memory stress inside the 100Mi container (exit 137)', async () => {
		const binary = join(scratch, 'memstress');
		const compiled = await run('gcc', ['-static', '-O2', '-o', binary, join(REPO_ROOT, 'lab/memstress.c')], { timeoutMs: 60_000 });
		expect(compiled.code, compiled.stderr).toBe(0);
		const app = 'alpine-deployment-pod-0-alpine';
		await podman(['cp', binary, `${app}:/tmp/memstress`]);
		const stress = await run('podman', ['exec', app, '/tmp/memstress', '256'], { cwd: scratch, env: labEnv, timeoutMs: 60_000 });
		expect(stress.code, output(stress)).toBe(137);
		expect(stress.stdout).toContain('holding 64 MiB');
		expect(stress.stdout).not.toContain('done');
	});

	it('plays the nginx Deployment with its ConfigMap, emptyDir and busybox sidecar', async () => {
		await podman(['kube', 'play', '-'], await readFile(NGINX_YAML, 'utf8'));
		const pod = 'nginx-deployment-pod-0';
		await waitFor('nginx and its sidecar to run', async () => {
			const running = await podman(['ps', '--filter', `pod=${pod}`, '--filter', 'status=running', '--format', '{{.IsInfra}}']);
			return running.split('\n').filter((isInfra) => isInfra === 'false').length === 2 ? true : null;
		});
		// Loopback inside the pod's netns only: the sidecar reaches nginx on 127.0.0.1.
		const sidecar = `${pod}-nginx-sidecar-container`;
		const page = await waitFor('nginx to answer', async () => {
			const result = await run('podman', ['exec', sidecar, 'wget', '-qO-', 'http://127.0.0.1/'], { env: labEnv, timeoutMs: 10_000 });
			return result.code === 0 ? result.stdout : null;
		});
		expect(page).toContain('Kano/鹿乃');
		expect(await podman(['exec', sidecar, 'cat', '/var/log/nginx/access.log'])).toMatch(/"GET \/ HTTP\/1\.1" 200/);
	});

	it('lab:reset removes the pods, their volumes and the chapters\u2019 files', async () => {
		await writeFile(join(LAB_WORK_DIR, 'memstress.c'), '/* left by a chapter */\n');
		const reset = await run(NODE, ['lab/reset.ts'], { cwd: REPO_ROOT, timeoutMs: 120_000 });
		expect(reset.code, output(reset)).toBe(0);
		expect(reset.stdout).toMatch(/Removing pods ✓ .*\(2 removed\)/);
		expect(await podman(['pod', 'ps', '--quiet'])).toBe('');
		expect(await podman(['ps', '--all', '--quiet'])).toBe('');
		expect(await podman(['volume', 'ls', '--quiet'])).toBe('');
		expect(await readdir(LAB_WORK_DIR)).toEqual([]);
	});
});
