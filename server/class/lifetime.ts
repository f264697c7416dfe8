/**
 * Class mode's session lifetime: a student idle for `idleMs` has their terminals ended (their lab
 * is a shared resource); the class end (`classEndsAt`) ends everyone's. Both are announced
 * `warningMs` ahead with an `expiry` message, so the panel can offer "Stay" (which sends `extend`).
 */
import type { Logger } from 'pino';
import type { Reader, ReaderRegistry } from '../readers.ts';

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

/** Per reader, the idle deadline it was last warned about and whether it heard of the class end: each is announced once. */
const warned = new WeakMap<Reader, { idleAt: number; deadline: boolean }>();

export function check({ readers, idleMs, warningMs, endsAt, logger }: LifetimeOptions, now: number): void {
	for (const reader of readers.all()) {
		if (reader.terminals.size === 0) continue;
		if (endsAt !== null && now >= endsAt) {
			logger.info({ reader: reader.label }, 'class over: ending terminals');
			void readers.endTerminals(reader, 'deadline');
			continue;
		}
		const idleAt = reader.lastActivity + idleMs;
		if (now >= idleAt) {
			logger.info({ reader: reader.label, idleMinutes: Math.round(idleMs / 60_000) }, 'idle: ending terminals');
			void readers.endTerminals(reader, 'idle');
			continue;
		}
		const told = warned.get(reader) ?? { idleAt: 0, deadline: false };
		warned.set(reader, told);
		if (endsAt !== null && now >= endsAt - warningMs && !told.deadline) {
			told.deadline = true;
			reader.notify({ t: 'expiry', reason: 'deadline', at: endsAt });
		}
		if (now >= idleAt - warningMs && told.idleAt !== idleAt && (endsAt === null || idleAt < endsAt)) {
			told.idleAt = idleAt;
			reader.notify({ t: 'expiry', reason: 'idle', at: idleAt });
		}
	}
}
