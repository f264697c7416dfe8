/**
 * The terminal's nonce marks the shell-integration markers as the gateway's. A program run in the
 * shell must not find it in any environment it can read, or it could print a forged "exit 0" for its
 * own failing block. On the local backend it travels on a pipe, never in the
 * environment of the wrapper, bash or anything they start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from '../helpers/client.ts';
import { startGateway, type RunningGateway } from '../helpers/gateway.ts';

let gateway: RunningGateway;
beforeAll(async () => {
	gateway = await startGateway();
});
afterAll(async () => {
	await gateway?.stop();
});

/**
 * A "program" that walks up its ancestors, reads each one's /proc/<pid>/environ (and its own), and
 * prints a D marker with every nonce it finds, claiming success before it exits 3.
 */
const FORGER = String.raw`sh -c '
found=0
pid=$$
while [ "$pid" -gt 1 ]; do
	nonce=$(tr "\000" "\n" < /proc/$pid/environ 2>/dev/null | sed -n "s/^PODLAB_NONCE=//p")
	if [ -n "$nonce" ]; then found=$((found + 1)); printf "\033]133;D;0;nonce=%s\007" "$nonce"; fi
	pid=$(awk "/^PPid:/ {print \$2}" /proc/$pid/status)
done
echo "nonces found: $found"
exit 3'`;

describe('the nonce', () => {
	it('is in no environment a program of the shell can read, so it cannot fake success', async () => {
		const client = await TestClient.connect(gateway);
		expect(await client.run(FORGER, 'forger')).toEqual({ t: 'done', block: 'forger', exit: 3 });
		expect(client.plainText).toContain('nonces found: 0');
		client.close();
	});

	it('still marks the shell’s own prompts: runs report their real exit status', async () => {
		const client = await TestClient.connect(gateway);
		expect(await client.run('true', 'ok')).toEqual({ t: 'done', block: 'ok', exit: 0 });
		expect(await client.run('(exit 7)', 'fails')).toEqual({ t: 'done', block: 'fails', exit: 7 });
		// The wrapper's own marker (Z, after bash exits) carries the nonce it got on the pipe.
		client.type('exit 4\r');
		expect(await client.waitForMessage('exit', 10_000)).toEqual({ t: 'exit', code: 4 });
		client.close();
	});
});
