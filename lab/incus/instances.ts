/**
 * Removing an Incus instance for good, whatever it is doing. Incus refuses to change an instance
 * while another operation holds it (a stop under way, an exec starting), so each step is tried again
 * for a while before the failure is reported.
 */
import { IncusError, type IncusApi } from './incus-api.ts';

/** Stops instance `name` at once and deletes it with everything in it. Idempotent. @throws {IncusError} after ~15 s of refusals. */
export async function removeInstance(api: IncusApi, name: string): Promise<void> {
	let lastError: unknown = null;
	for (let attempt = 0; attempt < 8; attempt++) {
		if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(4_000, 250 * 2 ** attempt)));
		try {
			const state = await api.get<{ status: string }>(`/1.0/instances/${name}/state`);
			if (state.status !== 'Stopped') await api.call('PUT', `/1.0/instances/${name}/state`, { body: { action: 'stop', force: true }, timeoutMs: 60_000 });
			await api.call('DELETE', `/1.0/instances/${name}`, { timeoutMs: 120_000 });
			return;
		} catch (error) {
			if ((error as IncusError).notFound) return;
			lastError = error;
		}
	}
	throw lastError;
}
