/**
 * What lets a browser into a lab's preview: a one-use entry link the site hands its reader (valid a
 * minute), exchanged on the preview's own origin for a cookie of that origin only (HttpOnly, valid
 * at most a class day). Both are signed with the gateway's key and name the reader and the port; the
 * preview's label (its host) is derived from them, so a pass for one preview opens no other.
 */
import { randomBytes } from 'node:crypto';
import { parseCookie, stringifySetCookie } from 'cookie';
import { signToken, verifyToken } from '../auth/signed-token.ts';

export const PREVIEW_COOKIE = 'podlab_preview';
/** The path on a preview origin that takes an entry link; a lab's own app cannot use it. */
export const ENTRY_PATH = '/.podlab/enter';
/** How long an entry link is good for: long enough for the browser to follow it, too short to share. */
export const ENTRY_MS = 60_000;
/** How long a preview's cookie lasts at most (a class day); the reader's session may end it sooner. */
export const PREVIEW_COOKIE_MS = 12 * 3_600_000;
/** Entry links used and not yet expired, at most: past this many, new ones are refused until some expire. */
const MAX_USED_ENTRIES = 100_000;

/** Whose preview, and of which port. */
export interface PreviewGrant {
	/** The reader's label (a student id in class mode). */
	reader: string;
	port: number;
}

export class PreviewPasses {
	readonly #key: Buffer;
	/** Used entry links' ids, with when they expire. */
	readonly #used = new Map<string, number>();

	constructor(key: Buffer) {
		this.#key = key;
	}

	/** A one-use entry token for `grant`. */
	entry(grant: PreviewGrant, now = Date.now()): string {
		return signToken({ sub: grant.reader, aud: 'preview-entry', port: grant.port, exp: now + ENTRY_MS, jti: randomBytes(16).toString('base64url') }, this.#key);
	}

	/** Takes an entry token: its grant the first time it is shown unexpired, null after that or when forged. */
	takeEntry(token: string | null, now = Date.now()): PreviewGrant | 'used' | null {
		const payload = verifyToken(token ?? undefined, this.#key, 'preview-entry', now);
		if (!payload?.port || !payload.jti) return null;
		for (const [id, expires] of this.#used) if (expires <= now) this.#used.delete(id);
		if (this.#used.has(payload.jti) || this.#used.size >= MAX_USED_ENTRIES) return 'used';
		this.#used.set(payload.jti, payload.exp);
		return { reader: payload.sub, port: payload.port };
	}

	/** The Set-Cookie header that opens `grant`'s preview in this browser. */
	cookie(grant: PreviewGrant, secure: boolean, now = Date.now()): string {
		return stringifySetCookie({
			name: PREVIEW_COOKIE,
			value: signToken({ sub: grant.reader, aud: 'preview', port: grant.port, exp: now + PREVIEW_COOKIE_MS }, this.#key),
			httpOnly: true,
			// Lax: sent when the entry link's redirect lands (a navigation that began on the site), never
			// with another site's requests.
			sameSite: 'lax',
			secure,
			path: '/',
			maxAge: PREVIEW_COOKIE_MS / 1000,
		});
	}

	/** The grant of the request's preview cookie, or null (none, forged or expired). */
	fromCookie(cookieHeader: string | undefined, now = Date.now()): PreviewGrant | null {
		const payload = verifyToken(parseCookie(cookieHeader ?? '')[PREVIEW_COOKIE], this.#key, 'preview', now);
		return payload?.port ? { reader: payload.sub, port: payload.port } : null;
	}
}
