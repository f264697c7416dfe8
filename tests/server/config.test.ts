import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.ts';

describe('loadConfig', () => {
	it('has safe defaults', () => {
		const config = loadConfig({ HOME: '/home/reader' });
		expect(config).toMatchObject({
			host: '127.0.0.1',
			port: 4321,
			graceMs: 600_000,
			scrollbackBytes: 2 * 1024 * 1024,
			maxPayloadBytes: 64 * 1024,
			memoryLimitBytes: 512 * 1024 * 1024,
			pidsLimit: 256,
			cgroups: 'auto',
		});
		expect(config.allowedOrigins).toBeUndefined();
	});

	it('reads the environment, with sizes in units', () => {
		const config = loadConfig({ PORT: '0', PODLAB_SCROLLBACK_BYTES: '4MiB', PODLAB_MEMORY_LIMIT: '256m', PODLAB_ALLOWED_ORIGINS: 'https://lab.example.org, http://localhost:4321' });
		expect(config.port).toBe(0);
		expect(config.scrollbackBytes).toBe(4 * 1024 * 1024);
		expect(config.memoryLimitBytes).toBe(256 * 1024 * 1024);
		expect(config.allowedOrigins).toEqual(['https://lab.example.org', 'http://localhost:4321']);
	});

	it('names the variable and how to fix a bad value', () => {
		expect(() => loadConfig({ PORT: 'eighty' })).toThrowErrorMatchingInlineSnapshot(`
			[ConfigError: Invalid podlab configuration:
			  PORT: Invalid input: expected number, received NaN (use a port number from 0 to 65535)]
		`);
		expect(() => loadConfig({ PODLAB_GRACE_MS: '5' })).toThrowErrorMatchingInlineSnapshot(`
			[ConfigError: Invalid podlab configuration:
			  PODLAB_GRACE_MS: Too small: expected number to be >=1000 (give milliseconds, e.g. 600000 for ten minutes)]
		`);
		expect(() => loadConfig({ PODLAB_CGROUPS: 'maybe' })).toThrow(/PODLAB_CGROUPS: .*\(use auto, off or required\)/);
		expect(() => loadConfig({ PODLAB_ALLOWED_ORIGINS: 'lab.example.org' })).toThrow(
			'PODLAB_ALLOWED_ORIGINS: "lab.example.org" is not an origin (give a comma-separated list such as https://lab.example.org)',
		);
		expect(() => loadConfig({ PODLAB_LOW_WATERMARK_BYTES: '1MiB', PODLAB_HIGH_WATERMARK_BYTES: '512KiB' })).toThrow(
			'PODLAB_LOW_WATERMARK_BYTES: must be below PODLAB_HIGH_WATERMARK_BYTES (524288)',
		);
	});

	it('reads a JSON file that the environment overrides', () => {
		const dir = mkdtempSync(join(tmpdir(), 'podlab-config-'));
		const file = join(dir, 'podlab.json');
		writeFileSync(file, JSON.stringify({ port: 8080, maxReaders: 30 }));
		expect(loadConfig({ PODLAB_CONFIG: file, PORT: '9090' })).toMatchObject({ port: 9090, maxReaders: 30 });
	});

	it('explains a broken config file', () => {
		const dir = mkdtempSync(join(tmpdir(), 'podlab-config-'));
		const file = join(dir, 'podlab.json');
		writeFileSync(file, JSON.stringify({ prot: 8080 }));
		expect(() => loadConfig({ PODLAB_CONFIG: file })).toThrow(`PODLAB_CONFIG: unknown setting(s) "prot" in "${file}"; valid settings: host, port,`);
		writeFileSync(file, '{ port: 1 }');
		expect(() => loadConfig({ PODLAB_CONFIG: file })).toThrow(`PODLAB_CONFIG: "${file}" is not valid JSON`);
		writeFileSync(file, JSON.stringify({ maxReaders: 0 }));
		expect(() => loadConfig({ PODLAB_CONFIG: file })).toThrow(`"maxReaders" in ${file}: Too small`);
		expect(() => loadConfig({ PODLAB_CONFIG: join(dir, 'missing.json') })).toThrow(/PODLAB_CONFIG: cannot read .*missing\.json.*fix the path or unset it/);
	});

	it('starts class mode on the local backend only when the shared lab is chosen', () => {
		const classMode = { PODLAB_MODE: 'class', PODLAB_JOIN_CODE: 'crane-orbit-velvet', PODLAB_INSTRUCTOR_TOKEN: 'instructor-token-0123456789', PODLAB_LAB_BACKEND: 'local' };
		expect(() => loadConfig(classMode)).toThrow(
			"PODLAB_MODE=class with PODLAB_LAB_BACKEND=local runs every student's shell on this machine, as the gateway's user: students share it",
		);
		expect(loadConfig({ ...classMode, PODLAB_ALLOW_SHARED_LAB: '1' })).toMatchObject({ mode: 'class', labBackend: 'local', allowSharedLab: true });
		expect(loadConfig({ PODLAB_MODE: 'local' }).allowSharedLab).toBe(false);
	});

	it('names the setting that replaced one of the lxc backend’s, instead of ignoring it', () => {
		expect(() => loadConfig({ PODLAB_LXC_WARM_LABS: '3' })).toThrow(
			'Invalid podlab configuration:\n  PODLAB_LXC_WARM_LABS: the lxc backend is now the incus backend (docs/labs.md); use PODLAB_LAB_WARM_LABS',
		);
		expect(() => loadConfig({ PODLAB_LAB_BACKEND: 'lxc' })).toThrow(/PODLAB_LAB_BACKEND: .*\(use auto, local, ssh or incus\)/);
	});

	it('leaves the backend to be chosen at startup unless PODLAB_LAB_BACKEND names one', () => {
		expect(loadConfig({}).labBackend).toBe('auto');
		// Class mode with auto is checked at startup, where Incus can say whether it makes labs.
		expect(loadConfig({ PODLAB_MODE: 'class', PODLAB_JOIN_CODE: 'crane-orbit-velvet', PODLAB_INSTRUCTOR_TOKEN: 'instructor-token-0123456789' }).labBackend).toBe('auto');
		expect(() => loadConfig({ PODLAB_LAB_BACKEND: 'kvm' })).toThrow(/PODLAB_LAB_BACKEND: .*\(use auto, local, ssh or incus\)/);
	});
});
