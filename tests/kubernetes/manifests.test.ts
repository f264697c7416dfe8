/**
 * Every manifest a chapter feeds to `kubectl apply -f -` is the article's YAML (lab/manifests/, which
 * `lab:reset` deletes by) and validates against the Kubernetes API schema. The schema comes from the
 * npm package kubernetes-models (5.1.0: the OpenAPI schema of Kubernetes 1.34), so no API server or
 * network is needed. Like the API server's OpenAPI schema, it does not reject unknown fields.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../lab/lab-required.ts';
import { kubernetesBlocks, shellCommands } from './kubernetes-blocks.ts';

/** The kinds the chapters use, each with its schema's validator. */
const VALIDATORS: Record<string, (object: unknown) => void> = {
	'apps/v1/Deployment': (object) => new Deployment(object as Deployment).validate(),
	'v1/ConfigMap': (object) => new ConfigMap(object as ConfigMap).validate(),
	'v1/Service': (object) => new Service(object as Service).validate(),
};

function validate(object: { apiVersion?: string; kind?: string }): string | null {
	const validator = VALIDATORS[`${object.apiVersion}/${object.kind}`];
	if (!validator) return `no schema here for ${object.apiVersion} ${object.kind}: add it to VALIDATORS`;
	try {
		validator(object);
		return null;
	} catch (error) {
		return (error as Error).message;
	}
}

/** Every here-document piped into `kubectl apply -f -`, with the block it is in. */
async function appliedManifests(): Promise<Array<{ block: string; yaml: string }>> {
	const found: Array<{ block: string; yaml: string }> = [];
	for (const block of await kubernetesBlocks()) {
		for (const command of await shellCommands(block.code)) {
			const applies = command.pipeline.some((member) => member.name === 'kubectl' && member.args.join(' ') === 'apply -f -');
			for (const yaml of applies ? command.heredocs : []) found.push({ block: block.id, yaml });
		}
	}
	return found;
}

const manifestsDir = join(REPO_ROOT, 'lab/manifests');
const labManifests = await Promise.all(
	(await readdir(manifestsDir)).sort().map(async (name) => ({ name, yaml: await readFile(join(manifestsDir, name), 'utf8') })),
);
const applied = await appliedManifests();

describe('the manifests of the kubernetes tabs', () => {
	it('are found: the alpine Deployment in three chapters, the nginx file in one', () => {
		expect(applied.map((manifest) => manifest.block.split(':')[0]).sort()).toEqual([
			'chapters/oom',
			'chapters/pause',
			'chapters/resources',
			'chapters/sidecar',
		]);
	});

	it.each(applied.map((manifest) => [manifest.block, manifest] as const))('%s applies the article’s YAML, byte for byte', (_, manifest) => {
		// Unquoted here-documents expand $… and `…`: the article's YAML has neither.
		expect(manifest.yaml).not.toMatch(/[$`\\]/);
		expect(labManifests.map((file) => file.yaml)).toContain(manifest.yaml);
	});

	it.each(labManifests.map((file) => [file.name, file] as const))('lab/manifests/%s validates against the Kubernetes 1.34 API schema', (_, file) => {
		const documents = parseAllDocuments(file.yaml);
		expect(documents.length).toBeGreaterThan(0);
		for (const document of documents) {
			expect(document.errors).toEqual([]);
			const object = document.toJS() as { apiVersion?: string; kind?: string; metadata?: { name?: string } };
			expect(validate(object), `${object.kind} ${object.metadata?.name}`).toBeNull();
		}
	});

	it('are refused by the schema when they are wrong (the check can fail)', () => {
		const [deployment] = parseAllDocuments(labManifests.find((file) => file.name === 'alpine-deployment.yaml')!.yaml).map((document) => document.toJS());
		const withoutSelector = structuredClone(deployment);
		delete withoutSelector.spec.selector;
		expect(validate(withoutSelector)).toContain('must have required property');
		const badPolicy = structuredClone(deployment);
		badPolicy.spec.template.spec.restartPolicy = 'Sometimes';
		expect(validate(badPolicy)).toContain('must be equal to one of the allowed values');
		const badLimit = structuredClone(deployment);
		badLimit.spec.template.spec.containers[0].resources.limits.memory = ['100Mi'];
		expect(validate(badLimit)).toContain('limits/memory');
		expect(validate({ apiVersion: 'v1', kind: 'Pod' })).toContain('no schema here');
	});
});
