import { describe, expect, it } from 'vitest';
import { parseMountInfo, parseProcCgroup } from '../../../server/backends/local/cgroup.ts';

describe('cgroup discovery', () => {
	it('reads v1 and v2 mounts from mountinfo', () => {
		const mounts = parseMountInfo(
			[
				'30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory',
				'31 25 0:27 /ns /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids',
				'32 25 0:28 / /sys/fs/cgroup/with\\040space rw - cgroup2 cgroup2 rw,nsdelegate',
			].join('\n'),
		);
		expect(mounts).toEqual([
			{ root: '/', mountPoint: '/sys/fs/cgroup/memory', fsType: 'cgroup', superOptions: ['rw', 'memory'] },
			{ root: '/ns', mountPoint: '/sys/fs/cgroup/pids', fsType: 'cgroup', superOptions: ['rw', 'pids'] },
			{ root: '/', mountPoint: '/sys/fs/cgroup/with space', fsType: 'cgroup2', superOptions: ['rw', 'nsdelegate'] },
		]);
	});

	it('reads which cgroup each controller puts us in', () => {
		const membership = parseProcCgroup('12:memory:/process_api/abc\n5:cpu,cpuacct:/\n0::/user.slice/x.scope\n');
		expect(membership.get('memory')).toBe('/process_api/abc');
		expect(membership.get('cpuacct')).toBe('/');
		expect(membership.get('')).toBe('/user.slice/x.scope');
	});
});
