/**
 * `npm run lab:reset`: removes what the chapters created, so each chapter starts clean. The lab
 * itself (packages, images, settings) stays; only pods, containers, their volumes (podman turns
 * the article's emptyDir and ConfigMap into named volumes) and the files in the lab's work
 * directory go.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SetupError, parseCli, requireRoot, runCli } from './lib/cli.ts';
import { describeFailure, run, succeeded } from './lib/exec.ts';
import { CONTAINERS_CONF_PATH, LAB_SOURCE_DIR, LAB_WORK_DIR } from './lib/paths.ts';
import { Progress } from './lib/progress.ts';
import { detectLab } from './status.ts';

const USAGE = `
Usage: npm run lab:reset

Removes what the chapters created, so the next chapter starts clean (needs root):
  podman lab:      every pod and container, unused volumes (the article's emptyDir and
                   ConfigMap volumes), and the files in ${LAB_WORK_DIR}
  kubernetes lab:  the article's Deployments, ConfigMap and Service (lab/manifests/), and the
                   files in ${LAB_WORK_DIR}
Images, packages and settings stay: no lab:setup is needed afterwards.

The lab machine is meant for podlab alone: on the podman lab this removes ALL pods and containers.

Options:
  -h, --help  show this help
`;

async function podman(args: string[], what: string): Promise<string> {
	const result = await run('podman', args, { timeoutMs: 120_000, env: { ...process.env, CONTAINERS_CONF: CONTAINERS_CONF_PATH } });
	if (!succeeded(result)) {
		throw new SetupError('LAB_SETUP_RESET', `could not remove ${what}: ${describeFailure(`podman ${args.join(' ')}`, result)}`, 'run the same podman command by hand to see why, then rerun `npm run lab:reset`');
	}
	return result.stdout;
}

const countLines = (text: string) => text.split('\n').filter(Boolean).length;

async function emptyWorkDir(): Promise<string> {
	await mkdir(LAB_WORK_DIR, { recursive: true });
	const entries = await readdir(LAB_WORK_DIR);
	for (const entry of entries) await rm(join(LAB_WORK_DIR, entry), { recursive: true, force: true });
	return `${entries.length} removed from ${LAB_WORK_DIR}`;
}

async function main(): Promise<number> {
	parseCli(process.argv.slice(2), {}, USAGE);
	requireRoot('lab:reset', 'it removes the lab\u2019s pods and containers');
	const lab = await detectLab();

	if (lab.profile === 'podman') {
		const progress = new Progress(4);
		// Stopping first is much faster: `pod rm --force` on running pods waits seconds for each one.
		await progress.step('Removing pods', async () => {
			await podman(['pod', 'stop', '--all', '--time', '0'], 'the pods');
			return `${countLines(await podman(['pod', 'rm', '--all', '--force', '--time', '0'], 'the pods'))} removed`;
		});
		await progress.step('Removing containers outside pods', async () => {
			await podman(['stop', '--all', '--time', '0'], 'the containers');
			return `${countLines(await podman(['rm', '--all', '--force', '--time', '0'], 'the containers'))} removed`;
		});
		await progress.step('Removing unused volumes', async () => {
			const before = countLines(await podman(['volume', 'ls', '--quiet'], 'the volumes'));
			await podman(['volume', 'prune', '--force'], 'the volumes');
			const after = countLines(await podman(['volume', 'ls', '--quiet'], 'the volumes'));
			return `${before - after} removed`;
		});
		await progress.step('Emptying the lab work directory', emptyWorkDir);
		progress.finish('Lab reset');
		return 0;
	}
	if (lab.profile === 'kubernetes') {
		const progress = new Progress(2);
		await progress.step('Deleting the article\u2019s objects', async () => {
			const result = await run(
				'kubectl',
				['delete', '-f', join(LAB_SOURCE_DIR, 'manifests'), '--ignore-not-found', '--wait=true', '--timeout=120s'],
				{ timeoutMs: 150_000 },
			);
			if (!succeeded(result)) {
				throw new SetupError('LAB_SETUP_RESET', `kubectl could not delete the article's objects: ${describeFailure('kubectl delete', result)}`, 'check the cluster with `kubectl get nodes`, then rerun `npm run lab:reset`');
			}
			return `${countLines(result.stdout)} deleted`;
		});
		await progress.step('Emptying the lab work directory', emptyWorkDir);
		progress.finish('Lab reset');
		return 0;
	}
	throw new SetupError('LAB_SETUP_RESET', 'there is no lab on this machine to reset.', 'set one up first: `npm run lab:setup` (podman lab); `npm run lab:status` shows what was found');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runCli(main);
