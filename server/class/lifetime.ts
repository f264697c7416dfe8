/**
 * Class mode's session lifetime: a student idle for `idleMs` has their terminals ended (their lab
 * is a shared resource); the class end (`classEndsAt`) ends everyone's. Both are announced
 * `warningMs` ahead with an `expiry` message, so the panel can offer "Stay" (which sends `extend`).
 */
import type { Logger } from 'pino';
import { endTerminals, type ReaderRegistry } from '../readers.ts';

export interface LifetimeOptions {
	readers: ReaderRegistry;
	idleMs: number;
	warningMs: number;
	/** Epoch ms of the class end, if any. */
	endsAt: number | null;
	logger: Logger;
}

/** Checks every reader now and then; returns a function that stops the checks. */
export function watchLifetimes(options: LifetimeOptions): () => void {
	const interval = Math.max(250, Math.min(5_000, options.warningMs / 4));
	const timer = setInterval(() => check(options, Date.now()), interval);
	timer.unref();
	return () => clearInterval(timer);
}

export function check({ readers, idleMs, warningMs, endsAt, logger }: LifetimeOptions, now: number): void {
	for (const reader of readers.all()) {
		if (reader.terminals.size === 0) continue;
		if (endsAt !== null && now >= endsAt) {
			logger.info({ reader: reader.label }, 'class over: ending terminals');
			void endTerminals(reader, 'deadline');
			continue;
		}
		const idleAt = reader.lastActivity + idleMs;
		if (now >= idleAt) {
			logger.info({ reader: reader.label, idleMinutes: Math.round(idleMs / 60_000) }, 'idle: ending terminals');
			void endTerminals(reader, 'idle');
			continue;
		}
		if (endsAt !== null && now >= endsAt - warningMs && !reader.warnedDeadline) {
			reader.warnedDeadline = true;
			reader.notify({ t: 'expiry', reason: 'deadline', at: endsAt });
		}
		if (now >= idleAt - warningMs && reader.warnedIdleAt !== idleAt && (endsAt === null || idleAt < endsAt)) {
			reader.warnedIdleAt = idleAt;
			reader.notify({ t: 'expiry', reason: 'idle', at: idleAt });
		}
	}
}
