/**
 * Structured logs (pino, one JSON object per line). Secrets never reach them: request headers that
 * carry credentials are redacted, and reader ids are only ever logged as short digests.
 */
import { pino, type Logger } from 'pino';

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
	return pino(
		{
			name: 'podlab',
			level,
			redact: {
				paths: ['req.headers.cookie', 'req.headers.authorization', 'headers.cookie', 'headers.authorization', '*.token', '*.cookie'],
				censor: '[redacted]',
			},
		},
		destination,
	);
}
