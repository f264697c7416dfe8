/**
 * What the lab is (profile, versions, what is missing), for `GET /api/lab`. Detection runs a few
 * commands, so one answer serves every request for a few seconds, and concurrent requests share it.
 */
import { detectLab, type LabStatus } from '../lab/status.ts';

const FRESH_FOR_MS = 10_000;

export function cachedLabStatus(detect: () => Promise<LabStatus> = () => detectLab(), freshForMs = FRESH_FOR_MS): () => Promise<LabStatus> {
	let current: { promise: Promise<LabStatus>; at: number } | null = null;
	return () => {
		if (!current || performance.now() - current.at > freshForMs) current = { promise: detect(), at: performance.now() };
		return current.promise;
	};
}
