import { describe, expect, it } from 'vitest';
import { startFailureCause } from '../../../../server/backends/lxc/labs.ts';

/** lxc-start's error log for a container whose root is missing, as LXC 5 on Debian 12 wrote it. */
const MISSING_ROOT = `lxc-start bad 20261206000037.771 ERROR    conf - ../src/lxc/conf.c:lxc_rootfs_init:576 - No such file or directory - Failed to open "/nonexistent-rootfs"
lxc-start bad 20261206000037.771 ERROR    start - ../src/lxc/start.c:__lxc_start:2079 - Failed to handle rootfs pinning for container "bad"
lxc-start bad 20261206000037.775 ERROR    lxccontainer - ../src/lxc/lxccontainer.c:wait_on_daemonized_start:878 - Received container state "ABORTING" instead of "RUNNING"
lxc-start bad 20261206000037.775 ERROR    lxc_start - ../src/lxc/tools/lxc_start.c:main:306 - The container failed to start
lxc-start bad 20261206000037.775 ERROR    lxc_start - ../src/lxc/tools/lxc_start.c:main:309 - To get more details, run the container in foreground mode
lxc-start bad 20261206000037.775 ERROR    lxc_start - ../src/lxc/tools/lxc_start.c:main:311 - Additional information can be obtained by setting the --logfile and --logpriority options`;

describe("a lab's start failure", () => {
	it("is told by the cause in lxc-start's log, not by what every failure prints after it", () => {
		expect(startFailureCause(MISSING_ROOT)).toBe(
			'conf - ../src/lxc/conf.c:lxc_rootfs_init:576 - No such file or directory - Failed to open "/nonexistent-rootfs" | start - ../src/lxc/start.c:__lxc_start:2079 - Failed to handle rootfs pinning for container "bad"',
		);
	});

	it('is empty for an empty log, and at most 600 characters for a long one', () => {
		expect(startFailureCause('')).toBe('');
		expect(startFailureCause(`lxc-start x 1 ERROR    conf - ${'x'.repeat(2000)}`)).toHaveLength(600);
	});
});
