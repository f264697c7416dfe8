/**
 * Keystroke echo round trips under load: every terminal types about `keysPerSecond` keys on a fixed
 * schedule (open loop: a key is sent on time even when earlier echoes are late, so a stall shows up in
 * every key it delays instead of hiding behind a slower typist), and each echo is matched to its key
 * in order. Keys sent during the warm-up are not counted.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { countByte, type BenchTerminal, type Keystroke } from './terminal.ts';

export interface TypingOptions {
	keysPerSecond: number;
	warmupMs: number;
	measureMs: number;
	/** How long to wait for the last echoes after the window closes. @default 3000 */
	drainMs?: number;
}

export interface TypingResult {
	/** Round trips in milliseconds of the keys sent in the measurement window. */
	latencies: number[];
	/** Keys of the window whose echo never came (within `drainMs` after it). */
	lost: number;
	/** Keys sent in all, warm-up included. */
	sent: number;
	/** The benchmark client's own event-loop delay (p99, ms): how far its clock can be trusted. */
	clientDelayP99Ms: number;
}

export async function measureTyping(
	terminals: ReadonlyArray<{ terminal: BenchTerminal; keystrokes: readonly Keystroke[] }>,
	options: TypingOptions,
): Promise<TypingResult> {
	const intervalMs = 1000 / options.keysPerSecond;
	const begin = performance.now();
	const measureFrom = begin + options.warmupMs;
	const measureUntil = measureFrom + options.measureMs;
	const latencies: number[] = [];
	let lost = 0;
	let sent = 0;
	const delay = monitorEventLoopDelay({ resolution: 10 });
	const typists = terminals.map(({ terminal, keystrokes }) => {
		// Sent keys waiting for their echo, per echo byte: [sent at, counted?].
		const pending = new Map<number, Array<[number, boolean]>>(keystrokes.map((stroke) => [stroke.echo, []]));
		const stopListening = terminal.onOutput((chunk) => {
			const now = performance.now();
			for (const [echo, queue] of pending) {
				if (queue.length === 0) continue;
				const matched = Math.min(queue.length, countByte(chunk, echo));
				for (const [sentAt, counted] of queue.splice(0, matched)) if (counted) latencies.push(now - sentAt);
			}
		});
		let next = 0;
		let timer: NodeJS.Timeout | null = null;
		// A random phase spreads the terminals' keys over the interval instead of sending them in bursts.
		let due = begin + Math.random() * intervalMs;
		const tick = () => {
			const now = performance.now();
			if (now >= measureUntil) return;
			const stroke = keystrokes[next++ % keystrokes.length]!;
			pending.get(stroke.echo)!.push([now, now >= measureFrom]);
			terminal.type(stroke.key);
			sent++;
			due += intervalMs;
			timer = setTimeout(tick, Math.max(0, due - performance.now()));
		};
		timer = setTimeout(tick, Math.max(0, due - performance.now()));
		return {
			pending,
			stop: () => {
				if (timer) clearTimeout(timer);
				stopListening();
			},
		};
	});
	await sleep(Math.max(0, measureFrom - performance.now()));
	delay.enable();
	await sleep(Math.max(0, measureUntil - performance.now()));
	delay.disable();
	const drainUntil = performance.now() + (options.drainMs ?? 3000);
	while (performance.now() < drainUntil && typists.some((typist) => [...typist.pending.values()].some((queue) => queue.some(([, counted]) => counted)))) {
		await sleep(20);
	}
	for (const typist of typists) {
		typist.stop();
		for (const queue of typist.pending.values()) lost += queue.filter(([, counted]) => counted).length;
	}
	return { latencies, lost, sent, clientDelayP99Ms: delay.percentile(99) / 1e6 };
}

function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}
