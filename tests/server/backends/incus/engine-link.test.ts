/** Incus there or away, with a fake Incus: its answers in, the reader's errors and the asking again out. */
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IncusError } from '../../../../lab/incus/incus-api.ts';
import { LAB_IMAGE } from '../../../../lab/incus/names.ts';
import { EngineLink, outageOf, RECONNECT_MAX_MS, RECONNECT_MIN_MS } from '../../../../server/backends/incus/engine-link.ts';
import { LabError } from '../../../../src/protocol.ts';

describe('outageOf', () => {
	it('says the lab engine is away when Incus cannot be reached or does not trust podlab', () => {
		expect(outageOf(new IncusError('connect ENOENT /var/lib/incus/unix.socket', null))).toEqual({ code: 'LAB_ERR_LAB_ENGINE', problem: 'connect ENOENT /var/lib/incus/unix.socket' });
		expect(outageOf(new IncusError('not trusted', 403)).code).toBe('LAB_ERR_LAB_ENGINE');
	});

	it('says the lab image is missing, and a missing project says how to make it', () => {
		expect(outageOf(new IncusError('there is no lab image "podlab-lab" in the project podlab', 404)).code).toBe('LAB_ERR_LAB_IMAGE');
		expect(outageOf(new Error('Image "x" not found')).code).toBe('LAB_ERR_LAB_IMAGE');
		expect(outageOf(new IncusError('Project not found', 404))).toEqual({ code: 'LAB_ERR_LAB_IMAGE', problem: 'Project not found (run `npm run lab:setup`)' });
	});

	it('says the lab’s host is unreachable when its cluster member is offline', () => {
		for (const message of ['Member "m2" is offline', 'Failed to connect to cluster member', 'the member m2 is unreachable']) {
			expect(outageOf(new IncusError(message, 500)).code, message).toBe('LAB_ERR_HOST_UNREACHABLE');
		}
	});

	it('takes anything else for a failed start, non-errors included', () => {
		expect(outageOf(new IncusError('Instance not found', 404))).toEqual({ code: 'LAB_ERR_SPAWN', problem: 'Instance not found' });
		expect(outageOf('boom')).toEqual({ code: 'LAB_ERR_SPAWN', problem: 'boom' });
	});
});

/** A fake Incus whose answer to each path the test sets; a path without one is not found. */
function fakeIncus() {
	const answers = new Map<string, unknown>([
		['/1.0', { auth: 'trusted' }],
		['/1.0/projects/podlab', {}],
		[`/1.0/images/aliases/${LAB_IMAGE}`, {}],
	]);
	let reachable = true;
	const asked: string[] = [];
	const api = {
		address: '/var/lib/incus/unix.socket',
		project: 'podlab',
		get: async <T>(path: string): Promise<T> => {
			asked.push(path);
			if (!reachable) throw new IncusError('connect ECONNREFUSED', null);
			if (!answers.has(path)) throw new IncusError(`${path} not found`, 404);
			return answers.get(path) as T;
		},
	} as unknown as ConstructorParameters<typeof EngineLink>[0]['api'];
	return {
		api,
		answers,
		asked,
		set reachable(value: boolean) {
			reachable = value;
		},
	};
}

function link(incus: ReturnType<typeof fakeIncus>, options: { onUp?: () => Promise<void>; setupRunning?: boolean } = {}) {
	return new EngineLink({
		api: incus.api,
		onUp: options.onUp ?? (async () => {}),
		setupState: async () => (options.setupRunning ? ({ state: 'running' } as never) : null),
		logger: pino({ level: 'silent' }),
	});
}

describe('EngineLink', () => {
	let engine: EngineLink | null = null;
	beforeEach(() => {
		vi.useFakeTimers();
	});
	afterEach(() => {
		engine?.close();
		vi.useRealTimers();
	});

	it('is not connected before it first asks, and connected once Incus answers', async () => {
		const incus = fakeIncus();
		const onUp = vi.fn(async () => {});
		engine = link(incus, { onUp });
		expect(engine.outage).toBe('not connected yet');
		expect(await engine.connect()).toBe(true);
		expect(engine.outage).toBeNull();
		expect(onUp).toHaveBeenCalledOnce();
		await expect(engine.available()).resolves.toBeUndefined();
	});

	it('shares one asking between concurrent callers', async () => {
		const incus = fakeIncus();
		engine = link(incus);
		await Promise.all([engine.connect(), engine.connect()]);
		expect(incus.asked.filter((path) => path === '/1.0')).toHaveLength(1);
	});

	it('refuses readers with the outage’s error, and the image’s absence says to run lab:setup', async () => {
		const incus = fakeIncus();
		incus.answers.delete(`/1.0/images/aliases/${LAB_IMAGE}`);
		engine = link(incus);
		expect(await engine.connect()).toBe(false);
		expect(engine.outage).toBe(`there is no lab image "${LAB_IMAGE}" in the project podlab: run \`npm run lab:setup\``);
		const error = await engine.available().catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(LabError);
		expect(error).toMatchObject({ code: 'LAB_ERR_LAB_IMAGE', closeCode: new LabError('LAB_ERR_LAB_IMAGE').closeCode });
	});

	it('refuses an Incus that does not trust podlab', async () => {
		const incus = fakeIncus();
		incus.answers.set('/1.0', { auth: 'untrusted' });
		engine = link(incus);
		expect(await engine.connect()).toBe(false);
		expect(engine.outage).toBe("Incus at /var/lib/incus/unix.socket does not trust podlab's certificate");
		await expect(engine.available()).rejects.toMatchObject({ code: 'LAB_ERR_LAB_ENGINE' });
	});

	it('tells readers the lab is being prepared while a lab:setup runs', async () => {
		const incus = fakeIncus();
		incus.reachable = false;
		engine = link(incus, { setupRunning: true });
		await engine.connect();
		await expect(engine.available()).rejects.toMatchObject({ code: 'LAB_ERR_LAB_PREPARING' });
	});

	it('counts a failure of onUp as a failure to connect', async () => {
		engine = link(fakeIncus(), { onUp: async () => Promise.reject(new IncusError('connect ECONNRESET', null)) });
		expect(await engine.connect()).toBe(false);
		expect(engine.outage).toBe('connect ECONNRESET');
	});

	it('asks again by itself with a pause that doubles up to its maximum, and is connected once Incus is back', async () => {
		const incus = fakeIncus();
		incus.reachable = false;
		engine = link(incus);
		await engine.connect();
		const asks = () => incus.asked.filter((path) => path === '/1.0').length;
		let pause = RECONNECT_MIN_MS;
		for (let count = 2; pause < RECONNECT_MAX_MS * 2; count++, pause *= 2) {
			await vi.advanceTimersByTimeAsync(Math.min(pause, RECONNECT_MAX_MS) - 1);
			expect(asks()).toBe(count - 1);
			await vi.advanceTimersByTimeAsync(1);
			expect(asks()).toBe(count);
		}
		incus.reachable = true;
		await vi.advanceTimersByTimeAsync(RECONNECT_MAX_MS);
		expect(engine.outage).toBeNull();
	});

	it('tries once more when a reader asks during an outage, and lets them in when Incus is back', async () => {
		const incus = fakeIncus();
		incus.reachable = false;
		engine = link(incus);
		await engine.connect();
		incus.reachable = true;
		await expect(engine.available()).resolves.toBeUndefined();
		expect(engine.outage).toBeNull();
	});

	it('stops asking again once closed', async () => {
		const incus = fakeIncus();
		incus.reachable = false;
		engine = link(incus);
		await engine.connect();
		engine.close();
		const asked = incus.asked.length;
		await vi.advanceTimersByTimeAsync(RECONNECT_MAX_MS * 4);
		expect(incus.asked.length).toBe(asked);
	});

	describe('readerError', () => {
		it('passes a LabError on as it is', async () => {
			engine = link(fakeIncus());
			const error = new LabError('LAB_ERR_LAB_OUTPUT');
			expect(engine.readerError(error, 'incus: test')).toBe(error);
		});

		it('turns Incus away into the engine’s error with its cause, and starts asking again', async () => {
			const incus = fakeIncus();
			engine = link(incus);
			await engine.connect();
			const cause = new IncusError('connect ECONNREFUSED', null);
			incus.reachable = false;
			const error = engine.readerError(cause, 'incus: test');
			expect(error).toMatchObject({ code: 'LAB_ERR_LAB_ENGINE', cause });
			expect(engine.outage).toBe('connect ECONNREFUSED');
			const asked = incus.asked.length;
			await vi.advanceTimersByTimeAsync(RECONNECT_MIN_MS);
			expect(incus.asked.length).toBeGreaterThan(asked);
		});

		it('leaves the link up for a failure that is the lab’s own', async () => {
			engine = link(fakeIncus());
			await engine.connect();
			expect(engine.readerError(new IncusError('Instance not found', 404), 'incus: test').code).toBe('LAB_ERR_SPAWN');
			expect(engine.outage).toBeNull();
		});
	});

	describe('labError', () => {
		it('says the host is unreachable when the lab’s member is not online', async () => {
			const incus = fakeIncus();
			incus.answers.set('/1.0/cluster/members/m2', { status: 'Offline', message: 'No heartbeat' });
			engine = link(incus);
			const error = await engine.labError(new IncusError('Error: websocket: bad handshake', 500), { name: 'lab-a', location: 'm2' }, 'incus: cannot attach');
			expect(error.code).toBe('LAB_ERR_HOST_UNREACHABLE');
		});

		it('does not ask about a member on a standalone server, nor when the member is online', async () => {
			const incus = fakeIncus();
			incus.answers.set('/1.0/cluster/members/m1', { status: 'Online', message: 'Fully operational' });
			engine = link(incus);
			expect((await engine.labError(new Error('exec failed'), { name: 'lab-a', location: 'none' }, 'incus: x')).code).toBe('LAB_ERR_SPAWN');
			expect(incus.asked).not.toContain('/1.0/cluster/members/none');
			expect((await engine.labError(new Error('exec failed'), { name: 'lab-a', location: 'm1' }, 'incus: x')).code).toBe('LAB_ERR_SPAWN');
		});
	});
});
