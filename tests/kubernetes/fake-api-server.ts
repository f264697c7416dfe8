/**
 * Just enough of a Kubernetes API server, on 127.0.0.1, for `kubectl get` to print sample objects
 * with its own `-o jsonpath` / `-o go-template` printers: the discovery documents kubectl reads
 * first, and the pods of one sample state (as a list, and each by name). Evaluating the chapters'
 * expressions through the real kubectl keeps its jsonpath dialect and its List wrapping (`.items`)
 * exactly as on a node, which no JavaScript jsonpath library reproduces.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PodObject {
	metadata: { name: string; namespace: string };
}

const DISCOVERY: Record<string, unknown> = {
	'/api': { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1:6443' }] },
	'/apis': { kind: 'APIGroupList', apiVersion: 'v1', groups: [] },
	'/api/v1': {
		kind: 'APIResourceList',
		groupVersion: 'v1',
		resources: [{ name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list', 'watch'], shortNames: ['po'] }],
	},
};

export class FakeApiServer {
	#pods: PodObject[] = [];
	readonly #server: Server;
	readonly #dir: string;
	/** A kubeconfig that points kubectl here (namespace default, no credentials). */
	readonly kubeconfig: string;

	private constructor(server: Server, dir: string) {
		this.#server = server;
		this.#dir = dir;
		this.kubeconfig = join(dir, 'kubeconfig');
	}

	static async start(): Promise<FakeApiServer> {
		const dir = await mkdtemp(join(tmpdir(), 'podlab-fake-api-'));
		const server = createServer();
		const fake = new FakeApiServer(server, dir);
		server.on('request', (request, response) => {
			const { status, body } = fake.#answer(new URL(request.url ?? '/', 'http://127.0.0.1').pathname);
			response.writeHead(status, { 'content-type': 'application/json' });
			response.end(JSON.stringify(body));
		});
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		const { port } = server.address() as AddressInfo;
		await writeFile(
			fake.kubeconfig,
			[
				'apiVersion: v1',
				'kind: Config',
				`clusters: [{name: fake, cluster: {server: "http://127.0.0.1:${port}"}}]`,
				'contexts: [{name: fake, context: {cluster: fake, namespace: default}}]',
				'current-context: fake',
				'users: []',
				'',
			].join('\n'),
		);
		return fake;
	}

	/** The pods `kubectl get pods …` lists from now on. */
	serve(pods: PodObject[]): void {
		this.#pods = pods;
	}

	/** Environment for kubectl: this server, a discovery cache of its own, nothing of the host's. */
	env(): NodeJS.ProcessEnv {
		return { PATH: process.env.PATH, HOME: this.#dir, KUBECONFIG: this.kubeconfig, KUBECACHEDIR: join(this.#dir, 'cache') };
	}

	async stop(): Promise<void> {
		await new Promise<void>((resolve) => this.#server.close(() => resolve()));
		await rm(this.#dir, { recursive: true, force: true });
	}

	#answer(path: string): { status: number; body: unknown } {
		if (path === '/version') return { status: 200, body: { major: '1', minor: '34', gitVersion: 'v1.34.0-fake' } };
		if (Object.hasOwn(DISCOVERY, path)) return { status: 200, body: DISCOVERY[path] };
		if (path === '/api/v1/namespaces/default/pods') {
			return { status: 200, body: { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: this.#pods } };
		}
		const pod = this.#pods.find((candidate) => path === `/api/v1/namespaces/default/pods/${candidate.metadata.name}`);
		if (pod) return { status: 200, body: pod };
		return { status: 404, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${path} not found` } };
	}
}
