/**
 * A `request` listener behind a real HTTP server on a free loopback port, for unit tests of the
 * gateway's HTTP edge: requests are sent with node:http, so a test sets every header itself (a
 * repeated Host, a foreign Origin), which fetch would not let it.
 */
import { createServer, request, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Answer {
	status: number;
	headers: IncomingMessage['headers'];
	body: string;
}

export interface Listening {
	port: number;
	/** Sends a request; headers given as an array are sent as they are, repeats included. */
	ask(method: string, path: string, headers?: OutgoingHttpHeaders | string[]): Promise<Answer>;
	close(): Promise<void>;
}

export async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Listening> {
	const server = createServer(handler);
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;
	return {
		port,
		ask: (method, path, headers = { host: `127.0.0.1:${port}` }) =>
			new Promise((resolve, reject) => {
				const sent = request({ host: '127.0.0.1', port, method, path, headers, setHost: false }, (res) => {
					const chunks: Buffer[] = [];
					res.on('data', (chunk: Buffer) => chunks.push(chunk));
					res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
				});
				sent.on('error', reject);
				sent.end();
			}),
		close: () => new Promise((resolve) => server.close(() => resolve())),
	};
}
