/*
 * The relay-echo floor's relay: the least a process between a terminal server and its pty can do.
 * It runs `cat` on a pty of its own (canonical mode: the line discipline echoes each key), writes
 * whatever comes on standard input into the pty and whatever the pty gives to standard output,
 * through one poll() loop with fixed buffers. No framing, no ring, no signals: podlab's terminal
 * relay (lab/incus/files/terminal-relay.c) does all of that on top of this hop.
 *
 * Built by bench/lib/relay-hop.ts with the machine's C compiler; run by bench/lib/floor-server.ts
 * with standard input and output connected to it (Node hands a child a unix socket for each).
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int write_all(int fd, const char *at, ssize_t length) {
	while (length > 0) {
		ssize_t written = write(fd, at, (size_t)length);
		if (written < 0) return -1;
		at += written;
		length -= written;
	}
	return 0;
}

int main(void) {
	int master;
	pid_t cat = forkpty(&master, NULL, NULL, NULL);
	if (cat < 0) return 1;
	if (cat == 0) {
		execlp("cat", "cat", (char *)NULL);
		_exit(127);
	}
	char buffer[32768];
	for (;;) {
		struct pollfd fds[2] = {{0, POLLIN, 0}, {master, POLLIN, 0}};
		if (poll(fds, 2, -1) < 0) continue;
		if (fds[0].revents) {
			ssize_t length = read(0, buffer, sizeof buffer);
			if (length <= 0 || write_all(master, buffer, length) < 0) break;
		}
		if (fds[1].revents) {
			ssize_t length = read(master, buffer, sizeof buffer);
			if (length <= 0 || write_all(1, buffer, length) < 0) break;
		}
	}
	kill(cat, SIGKILL);
	waitpid(cat, NULL, 0);
	return 0;
}
