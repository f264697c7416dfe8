/**
 * Is a gateway behind this site? Asked once before the first Run, so that on a plain static host
 * (or with the gateway stopped) Run copies the command instead of downloading a terminal that has
 * nothing to talk to. `GET /api/session` also gives the reader their cookie, which the WebSocket
 * upgrade requires. The first Run asks with `POST /api/session?start=<terminal>` instead: the gateway
 * then starts that shell at once, while the page downloads the terminal's code.
 *
 * Kept free of zod and the protocol module: this runs before the first Run, where every byte counts.
 */
import { apiUrl, fetchJson } from './urls.ts';

export type GatewayState = 'ready' | 'join' | 'offline';

export interface GatewayAnswer {
	/** "ready": a gateway answered; "join": a class-mode gateway wants the reader to join first; "offline": none. */
	state: GatewayState;
	/**
	 * When ready: the body of the answer (the reader's session), not yet validated — the terminal's
	 * code validates it, so that it need not ask again.
	 */
	session?: unknown;
}

/** Asks for the reader's session; `start`: the terminal (a valid name: the build checks) to start now. */
export async function gatewayAnswers(start?: string, timeoutMs = 5_000): Promise<GatewayAnswer> {
	const answer = await fetchJson(start ? `${apiUrl('session')}?start=${start}` : apiUrl('session'), timeoutMs, start ? 'POST' : 'GET');
	if (answer?.status === 401) return { state: 'join' };
	return answer?.ok ? { state: 'ready', session: answer.body } : { state: 'offline' };
}

/** Where a class-mode reader joins, coming back to this page afterwards. */
export function joinUrl(): string {
	return `${apiUrl('session').replace(/api\/session$/, 'join/')}?return=${encodeURIComponent(location.pathname)}`;
}
