/**
 * A lab's root can make the kernel print text of their choosing (here: a mount option the kernel
 * quotes back in its error). The kernel log of one's own lab must not believe it: no forged line,
 * no forged OOM report reaches another lab, and a fake report opened by a lab does not pull the
 * host's lines into that lab's log. Real labs on the incus backend, class mode, the real kernel log.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClassLabGateway } from '../helpers/class-lab-gateway.ts';
import type { TestClient } from '../helpers/client.ts';
import { incusLabProblem } from '../lab/incus/incus-required.ts';
import { assertLabUsable, skipReason } from '../lab/lab-required.ts';

const problem = await incusLabProblem();
const skip = skipReason(problem);

let lab: ClassLabGateway;

async function output(client: TestClient, code: string, block: string): Promise<string> {
	const start = client.plainText.length;
	await client.run(code, block, 60_000);
	return client.plainText.slice(start);
}

/** The host's kernel log as it is now (root only): every record's text. */
function hostKernelLog(): string[] {
	const fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
	const texts: string[] = [];
	const buffer = Buffer.alloc(16 * 1024);
	try {
		for (;;) {
			let length: number;
			try {
				length = readSync(fd, buffer);
			} catch (error) {
				if ((error as NodeJS.ErrnoException).code === 'EPIPE') continue; // overwritten records: read on
				break; // EAGAIN: the end
			}
			const line = buffer.toString('utf8', 0, length);
			texts.push(line.slice(line.indexOf(';') + 1).split('\n')[0]!);
		}
	} finally {
		closeSync(fd);
	}
	return texts;
}

/** The mount command whose error makes the kernel print `text` (tmpfs quotes an unknown option; no commas or '=' in it). */
const kernelSays = (text: string) => `mount -t tmpfs -o '${text}' none /mnt 2>/dev/null; true`;

describe.skipIf(skip !== null)(`the kernel log of one’s own lab${skip ? ` (skipped: ${skip})` : ''}`, () => {
	let mallory: TestClient;
	let bob: TestClient;
	let malloryLab: string;
	let bobLab: string;

	beforeAll(async () => {
		assertLabUsable(problem);
		lab = await ClassLabGateway.start();
		[mallory, bob] = [await lab.connect('mallory'), await lab.connect('bob')];
		[malloryLab, bobLab] = [await lab.labOf('mallory'), await lab.labOf('bob')];
		// Both logs are there, and empty, before anything happens.
		for (const client of [mallory, bob]) expect(await output(client, 'dmesg > /tmp/log && wc -l < /tmp/log && echo log""-read', 'before')).toMatch(/^\s*0\s*\r?\nlog-read/m);
	}, 120_000);

	afterAll(async () => {
		await lab?.stop();
	}, 120_000);

	it('routes no line a lab made the kernel print into another lab, nor the host’s lines into its own', async () => {
		const marker = `podlab-forged-${process.pid}`;
		// A line that names Bob's lab's cgroup; then a fake OOM report, and the host's line while it is open.
		await output(mallory, kernelSays(`${marker} /lxc.payload.podlab_${bobLab}/x`), 'forge-line');
		await output(mallory, kernelSays(`${marker} invoked oom-killer: gfp_mask:0x0 Memory cgroup stats for /lxc.payload.podlab_${bobLab}:`), 'forge-open');
		await output(mallory, kernelSays(`${marker} Memory cgroup out of memory: Killed process 1 (init) /lxc.payload.podlab_${bobLab}/`), 'forge-close');
		await output(mallory, kernelSays(`${marker} x invoked oom-killer: gfp_mask:0x0`), 'open-own');
		execFileSync('sh', ['-c', `mount -t tmpfs -o 'host-secret-${marker}' none /mnt 2>/dev/null; true`]);
		await output(mallory, kernelSays(`${marker} Memory cgroup stats for /lxc.payload.podlab_${malloryLab}: Killed process 1 (init)`), 'close-own');

		// The kernel did print each of them: the forgeries were live.
		const printed = hostKernelLog().filter((text) => text.includes(marker));
		expect(printed.length).toBeGreaterThanOrEqual(5);
		expect(printed.some((text) => text.includes(`/lxc.payload.podlab_${bobLab}/`))).toBe(true);

		// dmesg waits until the gateway has routed everything logged before it started.
		for (const client of [bob, mallory]) expect(await output(client, 'dmesg > /tmp/log && wc -l < /tmp/log && echo log""-read', 'after')).toMatch(/^\s*0\s*\r?\nlog-read/m);
	}, 120_000);
});
