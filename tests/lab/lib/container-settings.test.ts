import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
	chooseRuntime,
	chooseUlimits,
	PODMAN_DEFAULT_ULIMIT,
	renderContainersConf,
	renderLabEnv,
} from '../../../lab/lib/container-settings.ts';

describe('chooseRuntime', () => {
	it('pins runc on hybrid and v1 layouts, leaves podman\u2019s choice on v2', () => {
		expect(chooseRuntime('hybrid').runtime).toBe('runc');
		expect(chooseRuntime('v1').runtime).toBe('runc');
		expect(chooseRuntime('v2').runtime).toBeNull();
	});
});

describe('chooseUlimits', () => {
	it('stays at or below conmon\u2019s hard limits and never above podman\u2019s default', () => {
		expect(chooseUlimits({ nofileHard: 20000, nprocHard: 32768 })).toEqual({ nofile: 20000, nproc: 32768 });
		expect(chooseUlimits({ nofileHard: Number.POSITIVE_INFINITY, nprocHard: 4_000_000 })).toEqual({
			nofile: PODMAN_DEFAULT_ULIMIT,
			nproc: PODMAN_DEFAULT_ULIMIT,
		});
	});
});

describe('renderContainersConf', () => {
	it('writes default_ulimits and the runtime with the reason', () => {
		const conf = renderContainersConf({
			cgroupLayout: 'hybrid',
			runtime: 'runc',
			runtimeReason: 'cgroup hybrid: crun refuses this layout, runc handles it',
			ulimits: { nofile: 20000, nproc: 32768 },
		});
		expect(conf).toContain('[containers]\n');
		expect(conf).toContain('default_ulimits = [\n  "nofile=20000:20000",\n  "nproc=32768:32768",\n]\n');
		expect(conf).toContain('[engine]\n# cgroup hybrid: crun refuses this layout, runc handles it.\nruntime = "runc"\n');
	});
	it('pins no runtime on cgroup v2', () => {
		const conf = renderContainersConf({ cgroupLayout: 'v2', runtime: null, runtimeReason: 'cgroup v2', ulimits: { nofile: 1, nproc: 1 } });
		expect(conf).not.toMatch(/^runtime/m);
	});
});

describe('renderLabEnv', () => {
	it('is an env file the gateway\u2019s util.parseEnv reads into CONTAINERS_CONF', () => {
		expect(parseEnv(renderLabEnv())).toEqual({
			CONTAINERS_CONF: '/var/lib/podlab/containers.conf',
			PODLAB_LAB_DIR: '/var/lib/podlab/work',
		});
	});
});
