import { describe, expect, it } from 'vitest';
import { parseCgroupLayout, parseOsRelease, parseProcessLimits } from '../../../lab/lib/host.ts';

describe('parseCgroupLayout', () => {
	const v1 = 'cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\ncgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0\n';

	it('sees v1 controllers plus an empty v2 tree at /sys/fs/cgroup/unified as hybrid (crun refuses it)', () => {
		expect(parseCgroupLayout(`tmpfs /sys/fs/cgroup tmpfs rw 0 0\n${v1}cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n`)).toBe('hybrid');
	});
	it('tells v1, v2 and none apart', () => {
		expect(parseCgroupLayout(`tmpfs /sys/fs/cgroup tmpfs rw 0 0\n${v1}`)).toBe('v1');
		expect(parseCgroupLayout('cgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0\n')).toBe('v2');
		expect(parseCgroupLayout('proc /proc proc rw 0 0\n')).toBe('none');
	});
});

describe('parseProcessLimits', () => {
	it('reads the hard and soft open-files and processes limits of a /proc/<pid>/limits text', () => {
		const text = [
			'Limit                     Soft Limit           Hard Limit           Units     ',
			'Max processes             32768                32768                processes ',
			'Max open files            1024                 unlimited            files     ',
		].join('\n');
		expect(parseProcessLimits(text)).toEqual({
			nproc: { soft: 32768, hard: 32768 },
			nofile: { soft: 1024, hard: Number.POSITIVE_INFINITY },
		});
	});
	it('throws on a text without the lines', () => {
		expect(() => parseProcessLimits('Limit Soft Hard\n')).toThrow('no "Max open files" line in the limits file');
	});
});

describe('parseOsRelease', () => {
	it('unquotes values and skips comments', () => {
		expect(parseOsRelease('# c\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n')).toEqual({
			PRETTY_NAME: 'Debian GNU/Linux 12 (bookworm)',
			ID: 'debian',
			VERSION_CODENAME: 'bookworm',
		});
	});
});
