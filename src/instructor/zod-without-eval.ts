/**
 * The site's CSP allows no eval. zod compiles object parsers with `new Function` when it can, and
 * probes for that when a schema is created; the probe alone is reported as a CSP violation. This
 * module turns it off, and must be imported before any module that creates schemas.
 */
import * as z from 'zod/mini';

z.config({ jitless: true });
