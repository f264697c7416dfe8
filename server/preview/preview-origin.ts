/**
 * Where a lab's web pages are served: an origin of their own per reader and port, never the site's.
 * The preview listener answers for `<label>.<domain>`, one label per (reader, port), so that a lab's
 * page cannot read or set anything of the site or of another reader's preview (each is its own
 * origin, and under `localhost` its own site). Pure: no I/O.
 *
 * The default, `http://*.localhost:<preview port>`, works on one box without DNS: browsers resolve
 * every name under `localhost` to the loopback address (RFC 6761 §6.3). A class whose students reach
 * the gateway from other machines sets `PODLAB_PREVIEW_ORIGIN` to a wildcard name that resolves to it.
 */
import { createHmac } from 'node:crypto';

/** A preview origin pattern: `http(s)://*.<domain>[:port]`. */
export const PREVIEW_PATTERN = /^(https?):\/\/\*\.((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?::(\d{1,5}))?$/;

/** A preview's label: "p" and 24 hex digits (96 bits of a MAC: not guessable, not a reader's name). */
const LABEL = /^p[0-9a-f]{24}$/;

export interface PreviewOrigin {
	/** The pattern, for logs and docs: `http://*.localhost:4322`. */
	readonly pattern: string;
	/** The host label of a reader's port. */
	labelFor(reader: string, port: number): string;
	/** The label a request's Host names, or null when it is not a preview address. */
	labelOfHost(host: string | undefined): string | null;
	/** The preview's own origin for `label`: `http://p….localhost:4322`. */
	originOf(label: string): string;
	/** Whether previews are served over https (their cookies are then Secure). */
	readonly secure: boolean;
}

/** @throws {Error} when `pattern` is not `http(s)://*.<domain>[:port]`. */
export function previewOrigin(pattern: string, key: Buffer): PreviewOrigin {
	const match = PREVIEW_PATTERN.exec(pattern.toLowerCase());
	if (!match) throw new Error(`"${pattern}" is not a preview origin: write it as http://*.<domain>[:port], e.g. http://*.localhost:4322 or https://*.preview.example.org`);
	const [, scheme, domain, port] = match as unknown as [string, string, string, string | undefined];
	const suffix = `.${domain}`;
	return {
		pattern: `${scheme}://*.${domain}${port ? `:${port}` : ''}`,
		secure: scheme === 'https',
		labelFor: (reader, port) => `p${createHmac('sha256', key).update(`podlab-preview\n${reader}\n${port}`).digest('hex').slice(0, 24)}`,
		labelOfHost: (host) => {
			if (!host || host.length > 300) return null;
			const name = host.toLowerCase().replace(/:\d{1,5}$/, '');
			if (!name.endsWith(suffix)) return null;
			const label = name.slice(0, -suffix.length);
			return LABEL.test(label) ? label : null;
		},
		originOf: (label) => `${scheme}://${label}${suffix}${port ? `:${port}` : ''}`,
	};
}

/** The default pattern for a preview listener on `port`. */
export function defaultPreviewPattern(port: number): string {
	return `http://*.localhost:${port}`;
}
