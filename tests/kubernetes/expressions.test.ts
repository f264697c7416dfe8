/**
 * Every `jsonpath` expression a kubernetes block hands to kubectl, and every `jq` program it runs on
 * `crictl` / `ctr` output, is evaluated against the sample objects in `recorded/` (hand-built; see
 * its README) and must yield what the chapter's text says. kubectl's own printers evaluate the
 * jsonpath (through `kubectl get` against a fake API server on 127.0.0.1), jq evaluates jq: each
 * expression is read in the dialect it is written for.
 *
 * The tables below are the chapters' claims. An expression in a block without an entry fails (add
 * one, with what the text says it gives), and so does an entry no block uses any more.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocBlock } from '../../src/chapters/collect-blocks.ts';
import { FakeApiServer, type PodObject } from './fake-api-server.ts';
import { kubernetesBlocks, shellCommands, type ShellCommand } from './kubernetes-blocks.ts';

const run = promisify(execFile);
const RECORDED = new URL('./recorded/', import.meta.url);
const sample = async (name: string) => JSON.parse(await readFile(new URL(name, RECORDED), 'utf8'));

/** What the shell variables of the blocks hold when they run against the samples. */
const SHELL_VALUES = { POD: 'alpine-deployment-7c9d8f6b5d-x2k8q', RESTARTS: '0' };

interface JsonpathCase {
	chapter: string;
	/** `get` prints the expression; `wait` compares it with the value after its `=`. */
	use: 'get' | 'wait';
	expression: string;
	/** The pods the fake API server serves (files in recorded/). */
	pods: string[];
	yields: string;
	/** What the chapter's text says, for the reader of a failure. */
	says: string;
}

const JSONPATH_CASES: JsonpathCase[] = [
	{ chapter: 'chapters/pause', use: 'get', expression: '{.items[0].status.containerStatuses[0].restartCount}', pods: ['pod-alpine-running.json'], yields: '0', says: 'restarts so far, read before the kill' },
	{ chapter: 'chapters/pause', use: 'wait', expression: '{.status.containerStatuses[0].restartCount}', pods: ['pod-alpine-after-kill.json'], yields: '1', says: 'one restart more than before the kill ($((RESTARTS + 1)))' },
	{ chapter: 'chapters/resources', use: 'get', expression: '{.items[0].status.qosClass}', pods: ['pod-alpine-running.json'], yields: 'Burstable', says: 'a request below the limit makes the pod Burstable' },
	{ chapter: 'chapters/oom', use: 'get', expression: '{.items[0].metadata.name}', pods: ['pod-alpine-running.json'], yields: SHELL_VALUES.POD, says: 'the alpine pod’s name, for kubectl cp and exec' },
	{ chapter: 'chapters/oom', use: 'wait', expression: '{.status.containerStatuses[0].lastState.terminated.reason}', pods: ['pod-alpine-after-oom.json'], yields: 'OOMKilled', says: 'on cgroup v2 the container was OOM-killed and restarted' },
	{
		chapter: 'chapters/oom',
		use: 'get',
		expression:
			'restarts {.status.containerStatuses[0].restartCount}, last state {.status.containerStatuses[0].lastState.terminated.reason} (exit {.status.containerStatuses[0].lastState.terminated.exitCode}){"\\n"}',
		pods: ['pod-alpine-after-oom.json'],
		yields: 'restarts 1, last state OOMKilled (exit 137)\n',
		says: 'restarts 1, last state OOMKilled (exit 137)',
	},
	{
		chapter: 'chapters/sidecar',
		use: 'get',
		expression: '{range .items[0].status.containerStatuses[*]}{.name}: ready={.ready}, started={.started}{"\\n"}{end}',
		pods: ['pod-nginx-running.json'],
		yields: 'nginx: ready=true, started=true\nnginx-sidecar-container: ready=true, started=true\n',
		says: 'both containers ready, as READY 2/2 counts them',
	},
];

const ALPINE_SANDBOX = 'c41e7a9b3d5f2e8c6a0b4d7f1e3a5c9b8d2f6e0a4c7b1d3f5e9a2c6b8d0f4e1a';
const NGINX_SANDBOX = 'e5a7c9b1d3f5e7a9c0b2d4f6e8a1c3b5d7f9e0a2c4b6d8f1e3a5c7b9d0f2e4a6';
const ALPINE_NAMESPACES = ['{"type":"pid"}', '{"type":"ipc","path":"/proc/2381/ns/ipc"}', '{"type":"uts","path":"/proc/2381/ns/uts"}', '{"type":"mount"}', '{"type":"network","path":"/proc/2381/ns/net"}', '{"type":"cgroup"}'];
const NGINX_NAMESPACES = '[{"type":"pid"},{"type":"ipc","path":"/proc/2655/ns/ipc"},{"type":"uts","path":"/proc/2655/ns/uts"},{"type":"mount"},{"type":"network","path":"/proc/2655/ns/net"},{"type":"cgroup"}]';
const SHARED_LOGS = '/var/lib/kubelet/pods/9c8b7a6f-5e4d-4c3b-8a2f-1e0d9c8b7a6f/volumes/kubernetes.io~empty-dir/shared-logs';

interface JqCase {
	chapter: string;
	/** The command whose output the block pipes into jq, as written. */
	input: string;
	/** jq's arguments, as written (quotes included). */
	jq: string;
	/** The samples that command prints, in order (files in recorded/). */
	samples: string[];
	yields: string;
	says: string;
}

const JQ_CASES: JqCase[] = [
	{ chapter: 'chapters/pause', input: 'crictl inspect "$CID"', jq: '-r .info.sandboxID', samples: ['crictl-inspect-alpine.json'], yields: `${ALPINE_SANDBOX}\n`, says: 'the sandbox id' },
	{ chapter: 'chapters/pause', input: 'crictl inspect "$CID"', jq: '-r .info.pid', samples: ['crictl-inspect-alpine.json'], yields: '2417\n', says: 'the alpine container’s pid on the node' },
	{ chapter: 'chapters/pause', input: 'crictl inspect "$CID"', jq: "-c '.info.runtimeSpec.linux.namespaces[]'", samples: ['crictl-inspect-alpine.json'], yields: `${ALPINE_NAMESPACES.join('\n')}\n`, says: 'new pid and mount namespaces; network, IPC and UTS are paths of another process' },
	{ chapter: 'chapters/pause', input: 'ctr -n k8s.io containers info "$CID"', jq: '-r \'.Spec.annotations["io.kubernetes.cri.sandbox-id"]\'', samples: ['ctr-containers-info-alpine.json'], yields: `${ALPINE_SANDBOX}\n`, says: 'io.kubernetes.cri.sandbox-id: <the sandbox id>' },
	{
		chapter: 'chapters/pause',
		input: 'crictl inspectp "$SANDBOX"',
		jq: "'{image: .info.image, command: .info.runtimeSpec.process.args, pid: .info.pid, ip: .status.network.ip}'",
		samples: ['crictl-inspectp-alpine.json'],
		yields: '{\n  "image": "docker.io/rancher/mirrored-pause:3.6",\n  "command": [\n    "/pause"\n  ],\n  "pid": 2381,\n  "ip": "10.42.0.9"\n}\n',
		says: 'that is the pause container: its image, /pause, its pid and the pod IP',
	},
	{ chapter: 'chapters/pause', input: 'crictl inspectp "$SANDBOX"', jq: '-r .info.pid', samples: ['crictl-inspectp-alpine.json'], yields: '2381\n', says: 'the pause process’s pid' },
	{
		chapter: 'chapters/pause',
		input: 'crictl inspectp "$SANDBOX"',
		jq: "-c '.info.runtimeSpec.linux.namespaces[]'",
		samples: ['crictl-inspectp-alpine.json'],
		yields: '{"type":"pid"}\n{"type":"ipc"}\n{"type":"uts"}\n{"type":"mount"}\n{"type":"network","path":"/var/run/netns/cni-4f1d2a7e-93b5-6c08-e2a1-7b9d5c3f0e64"}\n{"type":"cgroup"}\n',
		says: 'all new but the network, /var/run/netns/cni-…; on cgroup v2 a cgroup entry',
	},
	{ chapter: 'chapters/pause', input: 'crictl inspect "$(crictl ps -q --name alpine)"', jq: '-r .info.pid', samples: ['crictl-inspect-alpine.json'], yields: '2417\n', says: 'the pid, worked out again before kill -9' },
	{ chapter: 'chapters/sidecar', input: 'crictl inspect "$NGINX_ID"', jq: '-r .info.sandboxID', samples: ['crictl-inspect-nginx.json'], yields: `${NGINX_SANDBOX}\n`, says: 'the pod’s sandbox' },
	{ chapter: 'chapters/sidecar', input: 'crictl inspect "$NGINX_ID"', jq: '-r .info.pid', samples: ['crictl-inspect-nginx.json'], yields: '2702\n', says: 'nginx’s pid' },
	{ chapter: 'chapters/sidecar', input: 'crictl inspect "$SIDECAR_ID"', jq: '-r .info.pid', samples: ['crictl-inspect-nginx-sidecar.json'], yields: '2761\n', says: 'the sidecar’s pid' },
	{ chapter: 'chapters/sidecar', input: 'crictl inspectp "$SANDBOX"', jq: '-r .info.pid', samples: ['crictl-inspectp-nginx.json'], yields: '2655\n', says: 'the pause process’s pid' },
	{ chapter: 'chapters/sidecar', input: 'crictl inspect "$id"', jq: "-c '.info.runtimeSpec.linux.namespaces'", samples: ['crictl-inspect-nginx.json', 'crictl-inspect-nginx-sidecar.json'], yields: `${NGINX_NAMESPACES}\n${NGINX_NAMESPACES}\n`, says: 'two containers, one pause container behind both (the same two lines)' },
	{
		chapter: 'chapters/sidecar',
		input: 'crictl inspect "$id"',
		jq: '-r \'.status.mounts[] | select(.containerPath == "/var/log/nginx") | "\\(.hostPath) readonly=\\(.readonly)"\'',
		samples: ['crictl-inspect-nginx.json', 'crictl-inspect-nginx-sidecar.json'],
		yields: `${SHARED_LOGS} readonly=false\n${SHARED_LOGS} readonly=true\n`,
		says: 'one emptyDir directory, read-write in nginx and read-only in the sidecar',
	},
	{ chapter: 'chapters/resources', input: 'crictl inspect "$CID"', jq: '-r .info.pid', samples: ['crictl-inspect-alpine.json'], yields: '2417\n', says: 'the pid whose /proc/<pid>/cgroup names the cgroup' },
	{
		chapter: 'chapters/resources',
		input: 'crictl inspect "$CID"',
		jq: '-r .info.runtimeSpec.linux.cgroupsPath',
		samples: ['crictl-inspect-alpine.json'],
		yields: 'kubepods-burstable-pod5b0e7f3a_2c41_4d7e_9a6b_8f1c2d3e4a5b.slice:cri-containerd:3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a\n',
		says: 'the systemd notation kubepods-burstable-pod….slice:cri-containerd:<id>, not a directory',
	},
	{
		chapter: 'chapters/resources',
		input: 'crictl inspect "$CID"',
		jq: "'.info.runtimeSpec.linux.resources | {memory, cpu}'",
		samples: ['crictl-inspect-alpine.json'],
		yields: '{\n  "memory": {\n    "limit": 104857600,\n    "swap": 104857600\n  },\n  "cpu": {\n    "shares": 2,\n    "period": 100000\n  }\n}\n',
		says: 'only the limit, 104857600, and cpu shares: 2 for no CPU request',
	},
	{ chapter: 'chapters/oom', input: 'crictl inspect "$CID"', jq: '-r .info.pid', samples: ['crictl-inspect-alpine.json'], yields: '2417\n', says: 'the pid whose cgroup has memory.oom.group' },
];

/** The words as bash reads them, with the sample values for the blocks' variables. */
async function shellWords(words: string[]): Promise<string[]> {
	for (const word of words) if (/\$\((?!\()|`/.test(word)) throw new Error(`refusing to expand a command substitution: ${word}`);
	const { stdout } = await run('bash', ['-c', `printf '%s\\0' ${words.join(' ')}`], { env: { PATH: process.env.PATH, ...SHELL_VALUES } });
	return stdout.split('\0').slice(0, -1);
}

interface FoundJsonpath {
	block: DocBlock;
	use: 'get' | 'wait';
	expression: string;
	/** `get`: kubectl's arguments as the block passes them; `wait`: the value the expression must equal. */
	args: string[];
	value?: string;
}

async function findJsonpath(blocks: DocBlock[]): Promise<FoundJsonpath[]> {
	const found: FoundJsonpath[] = [];
	for (const block of blocks) {
		for (const command of await shellCommands(block.code)) {
			if (command.name !== 'kubectl') continue;
			const args = await shellWords(command.args);
			if (args.some((arg) => /^(-o|--output)=?(jsonpath|go-template|template|custom-columns)/.test(arg) || /^--template/.test(arg))) {
				throw new Error(`${block.id}: write the output option as "-o jsonpath=…", the form this test reads`);
			}
			const output = args.findIndex((arg, index) => args[index - 1] === '-o' && /^(jsonpath|go-template|custom-columns)=/.test(arg));
			if (output >= 0) {
				const expression = args[output]!.replace(/^jsonpath=/, '');
				if (!args[output]!.startsWith('jsonpath=')) throw new Error(`${block.id}: ${args[output]} has no evaluator here; add one`);
				found.push({ block, use: 'get', expression, args });
			}
			for (const arg of args) {
				const wait = /^--for=jsonpath=(\{.*\})=(.*)$/.exec(arg);
				if (wait) found.push({ block, use: 'wait', expression: wait[1]!, args, value: wait[2]! });
				else if (arg.startsWith('--for=jsonpath')) throw new Error(`${block.id}: ${arg} is not --for=jsonpath='{…}'=value`);
			}
		}
	}
	return found;
}

interface FoundJq {
	block: DocBlock;
	input: string;
	jq: string;
	command: ShellCommand;
}

async function findJq(blocks: DocBlock[]): Promise<FoundJq[]> {
	const found: FoundJq[] = [];
	for (const block of blocks) {
		for (const command of await shellCommands(block.code)) {
			if (command.name !== 'jq') continue;
			const position = command.pipeline.indexOf(command);
			const producer = command.pipeline[position - 1];
			if (!producer) throw new Error(`${block.id}: jq ${command.args.join(' ')} reads no pipe; give it an input this test knows`);
			found.push({ block, input: [producer.name, ...producer.args].join(' '), jq: command.args.join(' '), command });
		}
	}
	return found;
}

const blocks = (await kubernetesBlocks()).filter((block) => block.profile === 'kubernetes');
const chapterOf = (block: DocBlock) => block.id.split(':')[0]!;
const jsonpathFound = await findJsonpath(blocks);
const jqFound = await findJq(blocks);
const jsonpathKey = (chapter: string, use: string, expression: string) => `${chapter} ${use} ${expression}`;
const jqKey = (chapter: string, input: string, jq: string) => `${chapter} ${input} | jq ${jq}`;

let api: FakeApiServer;
beforeAll(async () => {
	api = await FakeApiServer.start();
});
afterAll(async () => {
	await api?.stop();
});

async function kubectl(args: string[]): Promise<string> {
	const { stdout } = await run('kubectl', [...args, '--allow-missing-template-keys=false', '--request-timeout=10s'], { env: api.env(), timeout: 30_000 });
	return stdout;
}

describe('jsonpath expressions of the kubernetes tabs, evaluated by kubectl against sample pods', () => {
	it('are all in the table, and the table has nothing no block uses', () => {
		const inBlocks = [...new Set(jsonpathFound.map((found) => jsonpathKey(chapterOf(found.block), found.use, found.expression)))].sort();
		expect(inBlocks).toEqual(JSONPATH_CASES.map((entry) => jsonpathKey(entry.chapter, entry.use, entry.expression)).sort());
	});

	it.each(jsonpathFound.map((found) => [`${found.block.id} ${found.use} ${found.expression}`, found] as const))('%s', async (_, found) => {
		const entry = JSONPATH_CASES.find((candidate) => jsonpathKey(candidate.chapter, candidate.use, candidate.expression) === jsonpathKey(chapterOf(found.block), found.use, found.expression))!;
		const pods: PodObject[] = await Promise.all(entry.pods.map(sample));
		api.serve(pods);
		if (found.use === 'get') {
			// The block's own kubectl arguments: a selector lists (kubectl wraps the pods in a List), a name gets one pod.
			expect(await kubectl(found.args), entry.says).toBe(entry.yields);
		} else {
			// kubectl wait evaluates the expression on each pod and compares it with the value after "=".
			for (const pod of pods) expect(await kubectl(['get', 'pod', pod.metadata.name, '-o', `jsonpath=${found.expression}`]), entry.says).toBe(entry.yields);
			expect(found.value, `the value ${found.block.id} waits for`).toBe(entry.yields);
		}
	});

	it('can fail: a field the sample lacks is an error, not an empty string', async () => {
		api.serve([await sample('pod-alpine-running.json')]);
		await expect(kubectl(['get', 'pods', '-o', 'jsonpath={.items[0].status.containerStatuses[0].lastState.terminated.reason}'])).rejects.toThrow(/terminated is not found/);
	});
});

describe('jq programs of the kubernetes tabs, evaluated by jq against sample crictl / ctr output', () => {
	it('are all in the table, and the table has nothing no block uses', () => {
		const inBlocks = [...new Set(jqFound.map((found) => jqKey(chapterOf(found.block), found.input, found.jq)))].sort();
		expect(inBlocks).toEqual(JQ_CASES.map((entry) => jqKey(entry.chapter, entry.input, entry.jq)).sort());
	});

	it.each(jqFound.map((found) => [`${found.block.id} ${found.input} | jq ${found.jq}`, found] as const))('%s', async (_, found) => {
		const entry = JQ_CASES.find((candidate) => jqKey(candidate.chapter, candidate.input, candidate.jq) === jqKey(chapterOf(found.block), found.input, found.jq))!;
		const args = await shellWords(found.command.args);
		let output = '';
		for (const name of entry.samples) {
			const child = execFile('jq', args, { timeout: 10_000 });
			const done = new Promise<string>((resolve, reject) => {
				let stdout = '';
				child.stdout!.on('data', (chunk) => (stdout += chunk));
				child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`jq ${args.join(' ')} exited ${code}`))));
			});
			child.stdin!.end(await readFile(new URL(name, RECORDED)));
			output += await done;
		}
		expect(output, entry.says).toBe(entry.yields);
	});
});
