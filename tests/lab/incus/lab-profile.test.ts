/** The Incus profiles of podlab's labs and setup's pure choices, checked without Incus. */
import { describe, expect, it } from 'vitest';
import { choosePoolBytes, renderBackportsSource } from '../../../lab/incus/host-setup.ts';
import { DEFAULT_LAB_LIMITS, renderKernelLogProfile, renderLabProfile, subvolumeDenyRules } from '../../../lab/incus/lab-profile.ts';

const GIB = 2 ** 30;

describe('the lab profile', () => {
	const profile = renderLabProfile(DEFAULT_LAB_LIMITS);

	it('gives each lab an id range of its own, nesting for podman, and no network device', () => {
		expect(profile.config).toMatchObject({ 'security.idmap.isolated': 'true', 'security.nesting': 'true' });
		expect(Object.values(profile.devices).map((device) => device.type).sort()).toEqual(['disk', 'disk']);
	});

	it('sets the limits on the lab’s cgroup: 640 MiB and no swap, 1024 processes, a quarter of a CPU’s weight, 3 GiB of disk', () => {
		expect(profile.config).toMatchObject({
			'limits.memory': '671088640',
			'limits.memory.swap': 'false',
			'limits.processes': '1024',
			'limits.cpu.allowance': '25%',
			'limits.kernel.nofile': '20000',
		});
		expect(profile.devices.root).toEqual({ type: 'disk', path: '/', pool: 'podlab', size: String(3 * GIB) });
	});

	it('refuses the four ioctls that make a btrfs subvolume or snapshot, by their low 32 bits', () => {
		expect(subvolumeDenyRules()).toBe(
			[1342215169, 1342215182, 1342215191, 1342215192].map((command) => `ioctl errno 1 [1,${command},SCMP_CMP_MASKED_EQ,4294967295]\n`).join(''),
		);
		expect(profile.config['security.syscalls.deny']).toBe(subvolumeDenyRules());
	});

	it('mounts the kernel-log tree read-only outside /run, which a tmpfs covers after Incus’s devices', () => {
		expect(profile.devices['kernel-log']).toEqual({ type: 'disk', source: '/var/lib/podlab/kernel-log', path: '/var/log/podlab', readonly: 'true' });
		expect(profile.config['raw.lxc']).toContain('lxc.mount.entry = tmpfs run tmpfs');
	});

	it('gives the kernel-log reader the host’s /dev/kmsg, read only, the tree writable, and the host’s memory cgroups read only', () => {
		const reader = renderKernelLogProfile();
		expect(reader.config['security.privileged']).toBe('true');
		expect(reader.devices.kmsg).toEqual({ type: 'unix-char', source: '/dev/kmsg', path: '/dev/podlab-kmsg', mode: '0400' });
		expect(reader.devices['kernel-log']!.readonly).toBeUndefined();
		for (const name of ['host-cgroup-v1', 'host-cgroup-v2']) expect(reader.devices[name]).toMatchObject({ type: 'disk', readonly: 'true', required: 'false' });
	});
});

describe('lab:setup’s choices', () => {
	it('makes the pool half of the free space, whole GiB, at most 100 GiB, and refuses below 4 GiB', () => {
		expect(choosePoolBytes(80 * GIB)).toBe(40 * GIB);
		expect(choosePoolBytes(1000 * GIB)).toBe(100 * GIB);
		expect(choosePoolBytes(9.5 * GIB)).toBe(4 * GIB);
		expect(() => choosePoolBytes(7 * GIB)).toThrow(/needs at least 4 GiB, half of what is free/);
	});

	it('adds bookworm-backports from the mirror apt already uses, signed by Debian’s keyring', () => {
		expect(renderBackportsSource('http://deb.debian.org/debian', 'bookworm')).toBe(
			"# Added by podlab's lab:setup for Incus (lab/incus/host-setup.ts); npm run lab:remove takes it away.\nTypes: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
		);
	});
});
