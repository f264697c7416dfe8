/**
 * A real gateway in class mode on the incus backend, with a state directory of its own, for tests
 * where students work in labs of their own: join them, open their terminals, find their labs, and
 * take everything away afterwards (the gateway, its labs and its kernel-log reader).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Labs } from '../../server/backends/incus/labs.ts';
import { removeInstancesOf, testLabs } from '../lab/incus/incus-required.ts';
import { joinClass, TestClient } from './client.ts';
import { startGateway, type RunningGateway } from './gateway.ts';

export const INSTRUCTOR_TOKEN = 'class-lab-tests-instructor-token';
const JOIN_CODE = 'class-lab-tests';

export class ClassLabGateway {
	readonly gateway: RunningGateway;
	readonly labs: Labs;
	readonly stateDir: string;
	readonly #students = new Map<string, { cookie: string; id: string }>();

	private constructor(gateway: RunningGateway, labs: Labs, stateDir: string) {
		this.gateway = gateway;
		this.labs = labs;
		this.stateDir = stateDir;
	}

	/** Starts the gateway (two warm labs; `env` adds to or overrides its settings). */
	static async start(env: Record<string, string> = {}): Promise<ClassLabGateway> {
		const labs = await testLabs();
		const stateDir = mkdtempSync(join(tmpdir(), 'podlab-class-lab-state-'));
		const gateway = await startGateway({
			PODLAB_MODE: 'class',
			PODLAB_JOIN_CODE: JOIN_CODE,
			PODLAB_INSTRUCTOR_TOKEN: INSTRUCTOR_TOKEN,
			PODLAB_LAB_BACKEND: 'incus',
			PODLAB_LAB_WARM_LABS: '2',
			PODLAB_STATE_DIR: stateDir,
			...env,
		});
		return new ClassLabGateway(gateway, labs, stateDir);
	}

	/** Joins `name` on first use, and opens (or reattaches) their terminal `term`. */
	async connect(name: string, term = 'main'): Promise<TestClient> {
		const { cookie } = await this.student(name);
		return TestClient.connect(this.gateway, { cookie, term, readyTimeoutMs: 30_000 });
	}

	/** The student `name` (joined on first use): their cookie and id. */
	async student(name: string): Promise<{ cookie: string; id: string }> {
		let student = this.#students.get(name);
		if (!student) {
			const joined = await joinClass(this.gateway, name, JOIN_CODE);
			expect(joined.status, JSON.stringify(joined.body)).toBe(200);
			student = { cookie: joined.cookie!, id: joined.body.id! };
			this.#students.set(name, student);
		}
		return student;
	}

	/** The name of `name`'s lab. */
	async labOf(name: string): Promise<string> {
		const { id } = await this.student(name);
		const lab = (await this.labs.list()).find((each) => each.owner === id);
		if (!lab) throw new Error(`${name} has no lab`);
		return lab.name;
	}

	/** Stops the gateway and removes what it made in Incus. */
	async stop(): Promise<void> {
		await this.gateway.stop();
		await removeInstancesOf(this.labs.api, [this.stateDir]);
		this.labs.api.close();
	}
}
