/**
 * Who may read `GET /metrics`: the holder of the metrics token (PODLAB_METRICS_TOKEN), or in class mode
 * the instructor with theirs. With neither configured the endpoint does not exist.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { bearerToken } from '../http-util.ts';

/** `absent`: no one may read the metrics, so there are none to read (404); `refused`: 401. */
export type MetricsAccess = 'absent' | 'refused' | 'allowed';

export interface MetricsAuthOptions {
	/** The metrics token (PODLAB_METRICS_TOKEN), or null when none is set. */
	token: string | null;
	/** Whether a request carries the instructor's token (class mode); null outside class mode. */
	isInstructor: ((req: IncomingMessage) => Promise<boolean>) | null;
}

/** Makes the check of a request to `/metrics`. */
export function createMetricsAuth({ token, isInstructor }: MetricsAuthOptions): (req: IncomingMessage) => Promise<MetricsAccess> {
	const tokenDigest = token ? digestOf(token) : null;
	return async (req) => {
		if (!tokenDigest && !isInstructor) return 'absent';
		const given = bearerToken(req);
		const allowed =
			(given !== null && tokenDigest !== null && timingSafeEqual(digestOf(given), tokenDigest)) || (isInstructor !== null && (await isInstructor(req)));
		return allowed ? 'allowed' : 'refused';
	};
}

/** Fixed-length digests, so tokens of any length compare in constant time. */
function digestOf(token: string): Buffer {
	return createHash('sha256').update(token).digest();
}
