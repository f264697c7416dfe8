/**
 * What the kubernetes tabs do against current Kubernetes where the article's cluster (2023) did
 * otherwise, each pinned so that it cannot come back unnoticed. What the expressions yield is pinned in
 * expressions.test.ts; this file pins what the blocks do and what the pages say.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { collectBlocks, type DocBlock } from '../../src/chapters/collect-blocks.ts';
import { chapterFile, DOCS_DIR } from '../doctest/chapters.ts';
import { shellCommands } from './kubernetes-blocks.ts';

const blocksOf = async (chapter: string, profile: 'kubernetes' | 'podman') =>
	(await collectBlocks(chapterFile(chapter), DOCS_DIR, profile)).filter((block) => block.action === 'run' && block.profile === profile);
const page = (chapter: string) => readFile(chapterFile(chapter), 'utf8');
const withCode = (blocks: DocBlock[], pattern: RegExp) => blocks.filter((block) => pattern.test(block.code));

describe('OOM on cgroup v2 (memory.oom.group, kubelet 1.28+)', () => {
	it('the kubernetes tab expects memory.oom.group 1, the group kill and an OOMKilled restart', async () => {
		const blocks = await blocksOf('chapters/oom', 'kubernetes');
		expect(withCode(blocks, /memory\.oom\.group/).map((block) => block.test.expect)).toContain('^memory\\.oom\\.group: 1$');
		expect(withCode(blocks, /grep .*memory\.oom\.group set/)).toHaveLength(1);
		const restart = withCode(blocks, /--for=jsonpath=.*lastState\.terminated\.reason}'=OOMKilled/);
		expect(restart.map((block) => block.test.expect)).toEqual(['restarts 1, last state OOMKilled \\(exit 137\\)']);
		expect(blocks.some((block) => /Running \+0/.test(block.test.expect ?? ''))).toBe(false);
	});

	it('the podman tab keeps the v1 behaviour the article saw: Running, 0 restarts', async () => {
		const blocks = await blocksOf('chapters/oom', 'podman');
		expect(blocks.map((block) => block.test.expect)).toContain('status running, restarts 0');
		expect(await page('chapters/oom')).toContain('singleProcessOOMKill');
	});
});

describe('terminating pods do not leak into the next chapter', () => {
	it('every kubectl delete of a Deployment waits, in the same block, for its pods to be deleted', async () => {
		let deletes = 0;
		for (const chapter of ['chapters/pause', 'chapters/resources', 'chapters/oom', 'chapters/sidecar']) {
			for (const block of await blocksOf(chapter, 'kubernetes')) {
				const commands = await shellCommands(block.code);
				const deleted = commands.filter((command) => command.name === 'kubectl' && command.args[0] === 'delete' && command.args[1] === 'deployment');
				for (const command of deleted) {
					deletes++;
					const app = command.args[2]!.replace(/-deployment$/, '');
					const wait = commands.findIndex((other) => other.name === 'kubectl' && other.args.join(' ') === `wait --for=delete pod -l app=${app} --timeout=60s`);
					expect(wait, `${block.id}: kubectl delete deployment ${command.args[2]} without a wait`).toBeGreaterThan(commands.indexOf(command));
				}
			}
		}
		expect(deletes).toBe(4);
	});
});

describe('kill -9 never uses a stale pid', () => {
	it.each(['kubernetes', 'podman'] as const)('%s: the pid is worked out in the kill block itself and guarded with ${APP_PID:?}', async (profile) => {
		const [kill, ...more] = withCode(await blocksOf('chapters/pause', profile), /\bkill -9\b/);
		expect(more).toEqual([]);
		const lines = kill!.code.split('\n');
		const assigned = lines.findIndex((line) => line.startsWith('APP_PID=$('));
		const killed = lines.findIndex((line) => line.startsWith('kill -9 '));
		expect(assigned).toBeGreaterThanOrEqual(0);
		expect(killed).toBeGreaterThan(assigned);
		expect(lines[killed]).toBe('kill -9 "${APP_PID:?}"');
	});

	it('the restart wait counts from the restarts before the kill, so a second run works', async () => {
		const blocks = await blocksOf('chapters/pause', 'kubernetes');
		const kill = blocks.findIndex((block) => /\bkill -9\b/.test(block.code));
		expect(blocks[kill]!.code).toMatch(/^RESTARTS=\$\(kubectl get pods -l app=alpine -o jsonpath=/m);
		expect(blocks[kill + 1]!.code).toContain(`--for=jsonpath='{.status.containerStatuses[0].restartCount}'="$((RESTARTS + 1))"`);
	});
});

describe('the memory request is not nowhere', () => {
	it('both tabs show oom_score_adj, the kubernetes tab against the kubelet’s formula and the QoS parent', async () => {
		const [kubernetes] = withCode(await blocksOf('chapters/resources', 'kubernetes'), /oom_score_adj/);
		expect(kubernetes!.code).toContain('$(( 1000 - 1000 * REQUEST / MEMORY ))');
		expect(kubernetes!.test.expect).toContain('kubepods[/-]burstable');
		const [podman] = withCode(await blocksOf('chapters/resources', 'podman'), /oom_score_adj/);
		expect(podman!.test.expect).toBe('oom_score_adj: 0$');
		expect(await page('chapters/resources')).toContain(
			'https://kubernetes.io/docs/concepts/scheduling-eviction/node-pressure-eviction/#node-out-of-memory-behavior',
		);
	});

	it('the podman soft-limit caution stands above the block whose output it explains', async () => {
		const text = await page('chapters/resources');
		const caution = text.indexOf('<Aside type="caution" title="The podman lab differs here">');
		const softLimitBlock = text.indexOf('for file in memory.soft_limit_in_bytes memory.low memory.min; do');
		expect(caution).toBeGreaterThan(0);
		expect(caution).toBeLessThan(softLimitBlock);
	});
});

describe('what the article did, and what the kubernetes tab shows', () => {
	it('the introduction says the crictl commands are a reconstruction, and the pause chapter has the ctr form', async () => {
		expect(await page('chapters/introduction')).toMatch(/reconstruction\*\* of those steps with `crictl`/);
		const ctr = withCode(await blocksOf('chapters/pause', 'kubernetes'), /^ctr -n k8s\.io containers info "\$CID" \| grep namespaces -A 20$/m);
		expect(ctr).toHaveLength(1);
	});

	it('the sandbox’s own namespaces are shown, with the network one at /var/run/netns/cni-…', async () => {
		const [sandbox] = withCode(await blocksOf('chapters/pause', 'kubernetes'), /crictl inspectp "\$SANDBOX" \| jq -c '\.info\.runtimeSpec\.linux\.namespaces\[\]'/);
		expect(sandbox!.test.expect).toBe('"type":"network","path":"/var/run/netns/cni-');
	});

	it('READY 2/2 is explained, native sidecars have an aside, the k3s LoadBalancer is <pending>', async () => {
		const text = await page('chapters/sidecar');
		expect(text).toContain('<Aside title="Native sidecars">');
		expect(text).toContain('https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/');
		expect(text).toContain('https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-probes');
		const service = withCode(await blocksOf('chapters/sidecar', 'kubernetes'), /^kubectl get service nginx-deployment$/m);
		expect(service.map((block) => block.test.expect)).toEqual(['nginx-deployment +LoadBalancer +\\S+ +<pending>']);
	});

	it('the cgroup v2 and shareProcessNamespace corrections cite kubernetes.io', async () => {
		expect(await page('chapters/resources')).toContain('https://kubernetes.io/docs/concepts/architecture/cgroups/');
		for (const chapter of ['chapters/pause', 'chapters/sidecar']) {
			expect(await page(chapter)).toContain('https://kubernetes.io/docs/tasks/configure-pod-container/share-process-namespace/');
		}
	});
});
