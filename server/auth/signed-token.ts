/**
 * Signed session tokens for cookies: `<payload>.<HMAC-SHA256>`, both base64url. The gateway keeps no
 * session table to look them up in, so a student's cookie stays valid across gateway restarts; the
 * signing key lives in the state directory. Verification is constant-time and rejects expired tokens.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

const payloadSchema = z.strictObject({
	/** Who: a student id, or a reader's label (previews). */
	sub: z.string().min(1).max(64),
	/**
	 * What for, so a token of one kind is never accepted as another: a student's or the instructor's
	 * session, the one-use link into a lab's preview, or the preview's cookie (preview/preview-passes.ts).
	 */
	aud: z.enum(['student', 'instructor', 'preview-entry', 'preview']),
	/** Expiry, epoch milliseconds. */
	exp: z.number().int(),
	/** Previews: the lab's port. */
	port: z.number().int().min(1).max(65_535).optional(),
	/** A one-use token's id. */
	jti: z.string().min(16).max(64).optional(),
});

export type TokenPayload = z.infer<typeof payloadSchema>;

export function signToken(payload: TokenPayload, key: Buffer): string {
	const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
	return `${body}.${mac(body, key).toString('base64url')}`;
}

/** The payload when the signature, audience and expiry hold; null otherwise. */
export function verifyToken(token: string | undefined, key: Buffer, audience: TokenPayload['aud'], now = Date.now()): TokenPayload | null {
	if (!token || token.length > 512) return null;
	const [body, signature, extra] = token.split('.');
	if (!body || !signature || extra !== undefined) return null;
	const expected = mac(body, key);
	const actual = Buffer.from(signature, 'base64url');
	if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return null;
	let parsed;
	try {
		parsed = payloadSchema.safeParse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
	} catch {
		return null;
	}
	if (!parsed.success || parsed.data.aud !== audience || parsed.data.exp <= now) return null;
	return parsed.data;
}

function mac(body: string, key: Buffer): Buffer {
	return createHmac('sha256', key).update(body).digest();
}
