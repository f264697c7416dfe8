/**
 * Operational metrics in Prometheus' text format, for `GET /metrics`: readers, terminals by state,
 * bytes in and out, runs by outcome, refused joins by reason, failed state writes, WebSocket closes by
 * code, and Node's
 * own (event-loop lag among them). One registry per gateway, so tests can run several.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReaderRegistry } from './readers.ts';

export class Metrics {
	readonly registry = new Registry();
	readonly outputBytes = new Counter({ name: 'podlab_output_bytes_total', help: 'Terminal output bytes read from ptys.', registers: [this.registry] });
	readonly inputBytes = new Counter({ name: 'podlab_input_bytes_total', help: 'Keyboard input bytes written to ptys.', registers: [this.registry] });
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
	readonly stateWriteFailures = new Counter({
		name: 'podlab_state_write_failures_total',
		help: 'Writes of the state directory that failed (a full disk); each is retried.',
		labelNames: ['file'] as const,
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
