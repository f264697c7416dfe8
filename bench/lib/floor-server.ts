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
 * The relay-echo floor, `{"relayEcho": true}`: from then on the connection's binary frames go to a
 * relay process (bench/lib/relay-hop.c, its path the server's first argument) that types them into
 * `cat` on a pty of its own, and what the relay writes back is sent as it comes: the network floor
 * plus one process holding the pty, as podlab's lab path has one (its terminal relay, in the lab).
 *
 * Run by bench/lib/network-floor.ts: `node bench/lib/floor-server.ts [relay-hop]`.
 */
import { spawn } from 'node:child_process';
import { WebSocketServer, type WebSocket } from 'ws';
import { floodCommand } from './flood.ts';
import { spawnFloorPty } from './pty-floor.ts';

/** Frames queued in the socket before waiting for one to be written. */
const FRAMES_IN_FLIGHT = 16;
/** The relay's pty is paused above this many bytes queued in the socket, and resumed below a quarter. */
const RELAY_QUEUE_BYTES = 1024 * 1024;

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });

const RELAY_HOP = process.argv[2];

server.on('connection', (socket) => {
	let echo = (data: Buffer) => socket.send(data, { binary: true });
	socket.on('message', (data: Buffer, isBinary) => {
		if (isBinary) echo(data);
		else {
			const request = JSON.parse(data.toString()) as { flood: number; frameBytes: number } | { ptyFlood: number } | { relayEcho: true };
			if ('ptyFlood' in request) relay(socket, request.ptyFlood);
			else if ('relayEcho' in request) echo = relayEcho(socket);
			else flood(socket, request.flood, request.frameBytes);
		}
	});
});

/** Hands the connection's keys to a relay process of its own; returns what takes a key. */
function relayEcho(socket: WebSocket): (data: Buffer) => void {
	if (!RELAY_HOP) {
		socket.close(1011, 'the floor server was started without a relay');
		return () => {};
	}
	const hop = spawn(RELAY_HOP, [], { stdio: ['pipe', 'pipe', 'inherit'] });
	hop.stdout.on('data', (chunk: Buffer) => socket.send(chunk, { binary: true }));
	// A relay that fails or ends closes the connection, which the benchmark reports as its failure.
	hop.stdin.on('error', () => {});
	hop.once('error', (error) => socket.close(1011, error.message.slice(0, 100)));
	hop.once('exit', (code, signal) => socket.close(1011, `the relay exited: ${code ?? signal}`));
	socket.once('close', () => hop.kill('SIGKILL'));
	return (data) => hop.stdin.write(data);
}

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
