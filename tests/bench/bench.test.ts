/**
 * Keeps the benchmarks working: runs the smoke variant (`npm run bench -- --quick`) against the real
 * gateway and checks that every benchmark printed well-formed result lines. It asserts nothing about
 * speed: the quick sizes are far too small for the figures to mean anything.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { NODE } from '../helpers/gateway.ts';
import { incusLabProblem } from '../lab/incus/incus-required.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The `bench` field of the result lines: echo-capacity prints both echo and capacity results. */
const BENCHES = ['echo', 'capacity', 'throughput', 'browser-flood', 'click-to-output', 'page-weight', 'instructor-watch'];

/** Runs `npm run bench -- --quick ...args` and expects it to exit 0; its stdout and stderr. */
async function runBench(args: string[]): Promise<{ stdout: string; stderr: string }> {
	const child = spawn(NODE, ['bench/run.ts', '--quick', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
	let stdout = '';
	let stderr = '';
	child.stdout.on('data', (chunk) => (stdout += chunk));
	child.stderr.on('data', (chunk) => (stderr += chunk));
	const exitCode = await new Promise<number | null>((resolve) => child.once('exit', resolve));
	expect(exitCode, `bench exited with ${exitCode}; its log:\n${stderr}`).toBe(0);
	return { stdout, stderr };
}

it('prints one well-formed JSON result per line for every benchmark (npm run bench -- --quick)', async () => {
	const { stdout, stderr } = await runBench([]);

	const lines = stdout.trim().split('\n');
	const results = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
	for (const result of results) {
		expect(Object.keys(result).slice(0, 7)).toEqual(['bench', 'target', 'case', 'n', 'p50', 'p99', 'unit']);
		expect(typeof result.bench).toBe('string');
		expect(typeof result.target).toBe('string');
		expect(typeof result.case).toBe('string');
		expect(Number.isFinite(result.n)).toBe(true);
		for (const key of ['p50', 'p99']) expect(result[key] === null || Number.isFinite(result[key])).toBe(true);
		expect(typeof result.unit).toBe('string');
		expect(result.error, `${result.bench} ${result.target} ${result.case}`).toBeUndefined();
		if (result.p50 !== null && result.p99 !== null) expect(result.p99 as number).toBeGreaterThanOrEqual(result.p50 as number);
	}
	for (const bench of BENCHES) expect(results.some((result) => result.bench === bench), `no result from ${bench}`).toBe(true);
	// Echo is measured against both floors: the network's and the pty's.
	for (const floor of ['network-floor', 'pty-floor']) {
		expect(results.some((result) => result.bench === 'echo' && result.target === floor && (result.n as number) > 0), `no echo from ${floor}`).toBe(true);
	}
	// And, where a C compiler is (CI installs one), against a relay process holding the pty.
	expect(results.some((result) => result.bench === 'echo' && result.target === 'relay-echo-floor' && (result.n as number) > 0), 'no echo from relay-echo-floor').toBe(true);
	// Throughput against all three: the pty's, the network's and the relay's.
	for (const floor of ['pty-floor', 'network-floor', 'relay-floor']) {
		expect(results.some((result) => result.bench === 'throughput' && result.target === floor && (result.value as number) > 0), `no throughput from ${floor}`).toBe(true);
	}
	// The lab path (the incus backend), measured wherever this machine has labs (CI prepares them).
	const labPath = results.filter((result) => result.target === 'podlab-lab');
	expect(labPath.some((result) => result.bench === 'throughput' && result.ack === 'site')).toBe(true);
	expect(labPath.some((result) => result.bench === 'echo')).toBe(true);
	for (const bench of ['browser-flood', 'click-to-output']) expect(labPath.some((result) => result.bench === bench), `no lab-path result from ${bench}`).toBe(true);
	if ((await incusLabProblem()) === null) {
		// Skipped only for what skips `local` too (no built site, no browser).
		const skippedLocally = (bench: unknown) => results.some((result) => result.bench === bench && result.target === 'podlab' && result.skipped);
		for (const result of labPath) if (!skippedLocally(result.bench)) expect(result.skipped, `${result.bench} ${result.case}`).toBeUndefined();
		expect(labPath.some((result) => result.bench === 'throughput' && (result.value as number) > 0)).toBe(true);
	}
	expect(results.filter((result) => result.bench === 'machine')).toHaveLength(1);
	expect(results.filter((result) => result.bench === 'goal').length).toBeGreaterThan(0);
	// The readable table goes to stderr, after the results.
	expect(stderr).toContain('| bench | case | target |');
}, 480_000);

it('profiles the gateway per key echoed and per MB of output, and names where the time goes (npm run bench -- --quick --only echo-profile,flood-profile)', async () => {
	const { stdout } = await runBench(['--only', 'echo-profile,flood-profile']);
	const results = stdout.trim().split('\n').map((line) => JSON.parse(line) as { bench: string; target: string; case: string; value?: number });
	const profile = results.filter((result) => result.bench === 'echo-profile');
	const total = profile.find((result) => result.target === 'podlab' && result.case.endsWith('CPU per key, in all'));
	expect(total?.value).toBeGreaterThan(0);
	expect(profile.find((result) => result.target === 'network-floor')?.value).toBeGreaterThan(0);
	const buckets = profile.filter((result) => result.target === 'podlab' && !result.case.includes('in all') && !result.case.endsWith('profiled'));
	// A key's echo is one pty write and one frame sent: both must be found in the profile.
	for (const bucket of ['pty write', 'ws send', 'ws receive']) {
		expect(buckets.some((result) => result.case.includes(bucket) && result.value! > 0), `no ${bucket} in ${buckets.map((result) => result.case).join(', ')}`).toBe(true);
	}
	const flood = results.filter((result) => result.bench === 'flood-profile');
	expect(flood.find((result) => result.case.endsWith('CPU per MB, in all'))?.value).toBeGreaterThan(0);
	// A flood is read from the pty (libuv hands each read to JS: the socket read) and sent in frames:
	// both must be found in the profile. node-pty's own handler is too thin to be sampled every time.
	for (const bucket of ['socket read', 'ws send']) {
		expect(flood.some((result) => result.case.includes(bucket) && result.value! > 0), `no ${bucket} in ${flood.map((result) => result.case).join(', ')}`).toBe(true);
	}
}, 180_000);
