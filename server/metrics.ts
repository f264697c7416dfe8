/**
 * Operational metrics in Prometheus' text format, for `GET /metrics`: readers, terminals by state,
 * bytes in and out, runs by outcome, refused joins by reason, WebSocket closes by code, and Node's
 * own (event-loop lag among them). One registry per gateway, so tests can run several.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReaderRegistry } from './readers.ts';

export class Metrics {
	readonly registry = new Registry();
	readonly runs = new Counter({
		name: 'podlab_runs_total',
		help: 'Blocks run, by outcome (ok: exit 0).',
		labelNames: ['outcome'] as const,
		registers: [this.registry],
	});
	readonly joinsRefused = new Counter({
		name: 'podlab_joins_refused_total',
		help: 'Class joins refused, by reason.',
		labelNames: ['reason'] as const,
		registers: [this.registry],
	});
	readonly socketCloses = new Counter({
		name: 'podlab_websocket_closes_total',
		help: 'Terminal WebSockets closed, by close code.',
		labelNames: ['code'] as const,
		registers: [this.registry],
	});

	constructor(readers: ReaderRegistry) {
		collectDefaultMetrics({ register: this.registry, prefix: 'podlab_' });
		// Counted by the registry as plain numbers (no call per output chunk), read when scraped.
		for (const [name, help, read] of [
			['podlab_output_bytes_total', 'Terminal output bytes read from ptys.', () => readers.outputBytes],
			['podlab_input_bytes_total', 'Keyboard input bytes written to ptys.', () => readers.inputBytes],
		] as const) {
			new Counter({
				name,
				help,
				registers: [this.registry],
				collect() {
					this.reset();
					this.inc(read());
				},
			});
		}
		// podlab_runs_total counts blocks; typed commands are not counted.
		readers.on('run', (_reader, { block, exit }) => {
			if (block !== null) this.runs.inc({ outcome: exit === 0 ? 'ok' : 'fail' });
		});
		new Gauge({
			name: 'podlab_readers',
			help: 'Readers (browser sessions or joined students) the gateway tracks.',
			registers: [this.registry],
			collect() {
				this.set(readers.size);
			},
		});
		new Gauge({
			name: 'podlab_terminals',
			help: 'Live terminals, by state.',
			labelNames: ['state'] as const,
			registers: [this.registry],
			collect() {
				const terminals = readers.terminals();
				const busy = terminals.filter((terminal) => terminal.busy).length;
				const attached = terminals.filter((terminal) => terminal.peerCount > 0).length;
				this.set({ state: 'busy' }, busy);
				this.set({ state: 'idle' }, terminals.length - busy);
				this.set({ state: 'detached' }, terminals.length - attached);
			},
		});
	}
}
