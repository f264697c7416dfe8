/**
 * The network floor: the least a WebSocket terminal server can do, in its own process like the
 * gateway and wetty. A binary frame is echoed back as it is; a text frame `{"flood": N, "frameBytes": F}`
 * is answered with N bytes of "y" in frames of F bytes, sent as fast as the socket drains. No pty, no
 * parsing, no flow-control messages. Prints `{"port": P}` once listening on 127.0.0.1.
 *
 * The relay floor, `{"ptyFlood": N}`: the flood's command runs on a pty of this process and every
 * chunk read from it is sent as a binary frame as it comes, the pty paused while the socket holds
 * more than 1 MiB: a pty and a WebSocket and nothing else (no batching, scrollback, acks).
 *
 * Run by bench/lib/network-floor.ts: `node bench/lib/floor-server.ts`.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { floodCommand } from './flood.ts';
import { spawnFloorPty } from './pty-floor.ts';

/** Frames queued in the socket before waiting for one to be written. */
const FRAMES_IN_FLIGHT = 16;
/** The relay's pty is paused above this many bytes queued in the socket, and resumed below a quarter. */
const RELAY_QUEUE_BYTES = 1024 * 1024;

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });

server.on('connection', (socket) => {
	socket.on('message', (data, isBinary) => {
		if (isBinary) socket.send(data, { binary: true });
		else {
			const request = JSON.parse(data.toString()) as { flood: number; frameBytes: number } | { ptyFlood: number };
			if ('ptyFlood' in request) relay(socket, request.ptyFlood);
			else flood(socket, request.flood, request.frameBytes);
		}
	});
});

function relay(socket: WebSocket, bytes: number): void {
	// `sleep` keeps the pty open until its last byte is read; the socket's close ends it.
	const pty = spawnFloorPty('/bin/sh', ['-c', `${floodCommand(bytes)}; exec sleep 60`]);
	let paused = false;
	pty.onData((data) => {
		socket.send(data as unknown as Buffer, { binary: true }, () => {
			if (paused && socket.bufferedAmount < RELAY_QUEUE_BYTES / 4) {
				paused = false;
				pty.resume();
			}
		});
		if (!paused && socket.bufferedAmount > RELAY_QUEUE_BYTES) {
			paused = true;
			pty.pause();
		}
	});
	socket.once('close', () => pty.kill('SIGKILL'));
}

function flood(socket: WebSocket, total: number, frameBytes: number): void {
	const frame = Buffer.alloc(frameBytes, 'y');
	let queued = 0;
	let inFlight = 0;
	const pump = () => {
		while (queued < total && inFlight < FRAMES_IN_FLIGHT && socket.readyState === socket.OPEN) {
			const size = Math.min(frameBytes, total - queued);
			queued += size;
			inFlight++;
			socket.send(size === frameBytes ? frame : frame.subarray(0, size), { binary: true }, () => {
				inFlight--;
				pump();
			});
		}
	};
	pump();
}

server.on('listening', () => {
	const address = server.address();
	if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
	process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
	process.once(signal, () => {
		for (const client of server.clients) client.terminate();
		server.close(() => process.exit(0));
	});
}
