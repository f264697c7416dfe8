/*
 * podlab's terminal relay (lab/incus/files/terminal-relay.c), built into the lab image as
 * /usr/local/sbin/podlab-terminal-relay. It keeps a reader's shells alive in their lab while no
 * gateway is attached, the way tmux did, without drawing a screen: one small daemon per terminal
 * holds the shell's pty and a ring of its recent output, and hands the pty's bytes to the gateway
 * as they come (server/backends/incus/relay-process.ts reads them).
 *
 *   podlab-terminal-relay attach SESSION NONCE COLS ROWS TERM [SOCKET TOKEN]
 *       Run by the gateway over an Incus exec, one per terminal. Writes the nonce where the shell's
 *       rc file reads it, starts SESSION's daemon unless it runs, and hands the daemon the gateway's
 *       end: with SOCKET and TOKEN, a connection to the gateway's own socket for this lab (mounted
 *       from the gateway's host), which starts with TOKEN, and the exec ends at once; without them,
 *       or when SOCKET cannot be reached (a lab on another member of a cluster), the exec's stdin and
 *       stdout, and the exec lasts as long as the attach.
 *   podlab-terminal-relay protocol
 *       Prints the protocol this relay speaks (2: the gateway's socket), for the gateway's check of a lab.
 *   podlab-terminal-relay end PATTERN
 *       Ends every session whose name matches PATTERN (a shell pattern): its shell, its jobs and
 *       whatever else stayed in the shell's session, then its files.
 *
 * Frames, both ways: a type byte, a payload length (2 bytes, big-endian), the payload.
 *   gateway → relay   'A' cols rows (2 + 2 bytes)   the attach's size: first, once
 *                     'i' bytes                     keyboard input, in order
 *                     'r' cols rows                 a resize
 *                     's' signal number (1 byte)    a signal for the foreground job, never the shell
 *   relay → gateway   'h'                           attached (the answer to 'A')
 *                     'p' bytes                     output written before this attach (the ring)
 *                     'o' bytes                     output, in order
 *                     'b'                           reattached while the shell runs a command
 *                     'x' status (decimal)          the shell exited with status, after all its output
 *
 * Files in $HOME/.podlab/sessions, per session: .nonce (the attached gateway's nonce, read by the
 * shell's rc file, server/shell/podlab-ssh.bashrc), .shell (the shell's pid, written by that rc
 * file), .sock (the daemon's socket), .pid (the daemon's pid), .lock (starting a daemon).
 *
 * Backpressure holds both ways: the daemon reads the pty only while the gateway's side takes what it
 * has (a program that floods blocks, as it would on a real terminal), and takes input only as fast
 * as the pty takes it. With no gateway attached it reads the pty into its ring, so that a program
 * keeps running. C for the reasons kernel-log-relay.c gives; a loop over poll() with fixed buffers.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAYLOAD 65535
#define HEADER 3
/* Recent output kept for a gateway that attaches again. */
#define RING (256 * 1024)
/* What waits for the gateway: the ring's replay, then at most one read of the pty past READ_WHILE_BELOW. */
#define OUT_CAP (RING + RING / 8 + 2 * (MAX_PAYLOAD + HEADER))
#define READ_WHILE_BELOW (64 * 1024)
#define READ_CHUNK 32768
/* Input taken from the gateway and not yet by the pty. */
#define IN_CAP (64 * 1024)
/* The key the shell's rc file binds to "a gateway attached again" (podlab-ssh.bashrc). */
#define REATTACH_KEY "\033[9998~"
/* How long a signal waits for a command to be in the foreground (FOREGROUND_WAIT_MS, server/backends/local/local.ts). */
#define FOREGROUND_WAIT_MS 1000
/* What `protocol` prints: 2 since the gateway's socket (TOKEN_LENGTH, relay-process.ts). */
#define PROTOCOL "2"
#define TOKEN_LENGTH 32

static char dir[256];
/* The session's lock while the attach starts its daemon (which must not keep it). */
static int lock = -1;

static void die(const char *what) {
	fprintf(stderr, "podlab-terminal-relay: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int write_all(int fd, const void *bytes, size_t length) {
	const char *at = bytes;
	while (length > 0) {
		ssize_t written = write(fd, at, length);
		if (written < 0) {
			if (errno == EINTR) continue;
			return -1;
		}
		at += written;
		length -= (size_t)written;
	}
	return 0;
}

/* A session name (podlab-<reader>-<term>) or pattern: letters, digits, '-', '_' (and '*' in a pattern). */
static int valid_name(const char *name, int pattern) {
	size_t length = strlen(name);
	if (length == 0 || length > 128 || name[0] == '-' || name[0] == '.') return 0;
	for (size_t i = 0; i < length; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || (pattern && c == '*'))) return 0;
	}
	return 1;
}

static int number_in(const char *text, int low, int high) {
	char *end;
	long value = strtol(text, &end, 10);
	return *text && !*end && value >= low && value <= high ? (int)value : -1;
}

static void path_of(char *path, size_t size, const char *session, const char *suffix) {
	snprintf(path, size, "%s/%s.%s", dir, session, suffix);
}

static void set_nonblocking(int fd) {
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* ---- the daemon ---- */

static int master = -1, listener = -1;
/*
 * The attach's socket, and the exec's own stdin and stdout, which the attach hands over with the
 * attach frame (SCM_RIGHTS): the daemon then reads and writes the gateway's pipes itself, with no
 * process copying between them. The socket only tells when the attach is gone.
 */
static int client = -1, client_in = -1, client_out = -1;
static pid_t shell_pid;
static int shell_status = -1; /* once the shell exited: its status */
static int output_done;       /* the shell exited and the pty had nothing more to read */
static size_t after_exit;     /* bytes read from the pty since the shell exited */
static int attached_before;   /* a gateway attached to this session before */
static int signal_pipe[2];

static char ring[RING];
static size_t ring_end, ring_length;

static char out[OUT_CAP];
static size_t out_start, out_length;

static char in[IN_CAP];
static size_t in_start, in_length;

static unsigned char rx[HEADER + MAX_PAYLOAD];
static size_t rx_length;
static int handshaken;
static int exit_sent;
static int pending_signal;
static long long pending_until;

static void ring_add(const char *bytes, size_t length) {
	if (length >= RING) {
		bytes += length - RING;
		length = RING;
	}
	size_t first = RING - ring_end < length ? RING - ring_end : length;
	memcpy(ring + ring_end, bytes, first);
	memcpy(ring, bytes + first, length - first);
	ring_end = (ring_end + length) % RING;
	ring_length = ring_length + length > RING ? RING : ring_length + length;
}

static int out_add(char type, const char *payload, size_t length) {
	if (out_start > 0 && out_start + out_length + HEADER + length > OUT_CAP) {
		memmove(out, out + out_start, out_length);
		out_start = 0;
	}
	if (out_start + out_length + HEADER + length > OUT_CAP) return -1;
	char *at = out + out_start + out_length;
	at[0] = type;
	at[1] = (char)(length >> 8);
	at[2] = (char)length;
	memcpy(at + HEADER, payload, length);
	out_length += HEADER + length;
	return 0;
}

/* Adds `length` bytes of output as frames of `type`. */
static void out_add_data(char type, const char *bytes, size_t length) {
	while (length > 0) {
		size_t piece = length > MAX_PAYLOAD ? MAX_PAYLOAD : length;
		out_add(type, bytes, piece);
		bytes += piece;
		length -= piece;
	}
}

static void drop_client(void) {
	if (client_in >= 0 && client_in != client) close(client_in);
	if (client_out >= 0 && client_out != client) close(client_out);
	if (client >= 0) close(client);
	client = client_in = client_out = -1;
	out_start = out_length = 0;
	in_start = in_length = 0;
	rx_length = 0;
	handshaken = 0;
}

static void resize(int cols, int rows) {
	struct winsize size = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
	ioctl(master, TIOCSWINSZ, &size);
}

static void input_add(const char *bytes, size_t length) {
	if (in_start > 0 && in_start + in_length + length > IN_CAP) {
		memmove(in, in + in_start, in_length);
		in_start = 0;
	}
	if (in_start + in_length + length > IN_CAP) length = IN_CAP - in_start - in_length;
	memcpy(in + in_start + in_length, bytes, length);
	in_length += length;
}

/* The recent output, from the first line that starts in the ring when it has wrapped (no half sequence). */
static void replay(void) {
	size_t start = (ring_end + RING - ring_length) % RING;
	size_t length = ring_length;
	if (ring_length == RING) {
		size_t skip = 0;
		while (skip < length && ring[(start + skip) % RING] != '\n') skip++;
		if (skip < length) skip++;
		start = (start + skip) % RING;
		length -= skip;
	}
	size_t first = RING - start < length ? RING - start : length;
	out_add_data('p', ring + start, first);
	out_add_data('p', ring, length - first);
}

static void send_exit(void) {
	char status[16];
	int length = snprintf(status, sizeof status, "%d", shell_status);
	out_add('x', status, (size_t)length);
	exit_sent = 1;
}

static void on_attach(int cols, int rows) {
	handshaken = 1;
	resize(cols, rows);
	out_add('h', "", 0);
	if (attached_before || ring_length > 0) replay();
	if (output_done) {
		send_exit();
	} else if (attached_before) {
		// At its prompt, the reattach key makes the shell print its prompt markers with the new nonce;
		// while a command runs the gateway is told it is busy, and the markers come later.
		pid_t group = tcgetpgrp(master);
		if (group == shell_pid) input_add(REATTACH_KEY, sizeof REATTACH_KEY - 1);
		else out_add('b', "", 0);
	}
	attached_before = 1;
}

static long long now_ms(void) {
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/*
 * Sends the pending signal to the foreground job, never to the shell. The gateway asks while the
 * shell runs a command, but the shell may still be handing the terminal to it: until then, and for
 * at most FOREGROUND_WAIT_MS, the loop tries again every 10 ms.
 */
static void signal_foreground(void) {
	if (!pending_signal) return;
	pid_t group = tcgetpgrp(master);
	if (group > 0 && group != shell_pid && shell_status < 0) {
		kill(-group, pending_signal);
		pending_signal = 0;
	} else if (now_ms() > pending_until || shell_status >= 0) {
		pending_signal = 0;
	}
}

static int take_frames(void);

/*
 * Takes the attach frame from the attach's socket, with the gateway's end when it passed it: 'A' with
 * the exec's stdin and stdout (the attach stays, and its socket says when the exec is gone), 'D' with
 * a connection to the gateway's socket twice (the attach is gone, and that connection says when the
 * gateway is). Without descriptors the attach's socket carries the frames both ways. False when it
 * is not an attach frame.
 */
static int take_attach(void) {
	unsigned char frame[HEADER + 4];
	union {
		char buffer[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec io = {frame, sizeof frame};
	struct msghdr message = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = control.buffer, .msg_controllen = sizeof control.buffer};
	ssize_t length = recvmsg(client, &message, MSG_CMSG_CLOEXEC);
	if (length < 0 && (errno == EAGAIN || errno == EINTR)) return 1;
	struct cmsghdr *header = CMSG_FIRSTHDR(&message);
	if (header && header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
		int passed = (int)((header->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int fds[2] = {-1, -1};
		memcpy(fds, CMSG_DATA(header), (size_t)(passed < 2 ? passed : 2) * sizeof(int));
		for (int i = 2; i < passed; i++) close(((int *)CMSG_DATA(header))[i]);
		if (passed != 2) {
			if (fds[0] >= 0) close(fds[0]);
			return 0;
		}
		client_in = fds[0];
		client_out = fds[1];
		set_nonblocking(client_in);
		set_nonblocking(client_out);
	}
	if (length != sizeof frame) return 0;
	if (frame[0] == 'D') {
		if (client_in == client) return 0;
		close(client);
		client = client_in;
		frame[0] = 'A';
	}
	memcpy(rx, frame, sizeof frame);
	rx_length = sizeof frame;
	return take_frames();
}

/* Takes the frames the gateway sent; false when it broke the protocol. */
static int take_frames(void) {
	size_t at = 0;
	while (rx_length - at >= HEADER) {
		unsigned char type = rx[at];
		size_t length = (size_t)rx[at + 1] << 8 | rx[at + 2];
		if (rx_length - at < HEADER + length) break;
		const unsigned char *payload = rx + at + HEADER;
		if (!handshaken && type != 'A') return 0;
		switch (type) {
		case 'A':
		case 'r': {
			if (length != 4 || (type == 'A' && handshaken)) return 0;
			int cols = payload[0] << 8 | payload[1], rows = payload[2] << 8 | payload[3];
			if (cols < 1 || rows < 1) return 0;
			if (type == 'A') on_attach(cols, rows);
			else resize(cols, rows);
			break;
		}
		case 'i':
			input_add((const char *)payload, length);
			break;
		case 's':
			if (length != 1 || payload[0] < 1 || payload[0] >= NSIG) return 0;
			pending_signal = payload[0];
			pending_until = now_ms() + FOREGROUND_WAIT_MS;
			signal_foreground();
			break;
		default:
			return 0;
		}
		at += HEADER + length;
	}
	memmove(rx, rx + at, rx_length - at);
	rx_length -= at;
	return 1;
}

static void on_signal(int number) {
	char byte = (char)number;
	int saved = errno;
	(void)!write(signal_pipe[1], &byte, 1);
	errno = saved;
}

/* Every process whose session is the shell's (what it started, even what left its process group). */
static void kill_session(int signal) {
	DIR *proc = opendir("/proc");
	if (!proc) return;
	struct dirent *entry;
	while ((entry = readdir(proc))) {
		int pid = number_in(entry->d_name, 1, 1 << 30);
		if (pid < 0) continue;
		char path[64], stat[512];
		snprintf(path, sizeof path, "/proc/%d/stat", pid);
		int fd = open(path, O_RDONLY);
		if (fd < 0) continue;
		ssize_t length = read(fd, stat, sizeof stat - 1);
		close(fd);
		if (length <= 0) continue;
		stat[length] = 0;
		char *after = strrchr(stat, ')');
		int session;
		if (after && sscanf(after + 2, "%*c %*d %*d %d", &session) == 1 && session == shell_pid) kill(pid, signal);
	}
	closedir(proc);
}

static void end_session(const char *session) {
	// The gateway has had everything: its exec ends now, not after the grace below.
	drop_client();
	// The hangup ends the shell and its jobs; what ignored it and stayed in the session goes a second later.
	kill(-shell_pid, SIGHUP);
	kill(shell_pid, SIGHUP);
	kill_session(SIGHUP);
	close(master);
	struct timespec second = {1, 0};
	nanosleep(&second, NULL);
	kill_session(SIGKILL);
	char path[600];
	const char *suffixes[] = {"sock", "pid", "nonce", "shell"};
	for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
		path_of(path, sizeof path, session, suffixes[i]);
		unlink(path);
	}
	exit(0);
}

static void start_shell(const char *session, const char *term, int cols, int rows) {
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) die("cannot open a pty");
	resize(cols, rows);
	const char *slave = ptsname(master);
	shell_pid = fork();
	if (shell_pid < 0) die("cannot fork the shell");
	if (shell_pid == 0) {
		setsid();
		int tty = open(slave, O_RDWR);
		if (tty < 0) _exit(127);
		ioctl(tty, TIOCSCTTY, 0);
		dup2(tty, 0);
		dup2(tty, 1);
		dup2(tty, 2);
		if (tty > 2) close(tty);
		for (int number = 1; number < NSIG; number++) signal(number, SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setenv("PODLAB", "1", 1);
		setenv("PODLAB_TERM", term, 1);
		setenv("PODLAB_SESSION", session, 1);
		setenv("COLORTERM", "truecolor", 1);
		setenv("TERM", "xterm-256color", 1);
		char rcfile[600];
		snprintf(rcfile, sizeof rcfile, "%s/../podlab.bashrc", dir);
		execl("/bin/bash", "bash", "--rcfile", rcfile, "-i", (char *)NULL);
		_exit(127);
	}
	set_nonblocking(master);
}

static void daemon_loop(const char *session) {
	for (;;) {
		struct pollfd fds[6];
		int count = 0;
		fds[count++] = (struct pollfd){signal_pipe[0], POLLIN, 0};
		fds[count++] = (struct pollfd){listener, POLLIN, 0};
		int master_at = -1, client_at = -1;
		short master_events = 0;
		// Read the pty while nobody is attached (into the ring) or while the gateway keeps up.
		int can_read = !output_done && (client < 0 || (handshaken && out_length < READ_WHILE_BELOW));
		if (can_read) master_events |= POLLIN;
		if (in_length > 0 && shell_status < 0) master_events |= POLLOUT;
		if (master_events) {
			master_at = count;
			fds[count++] = (struct pollfd){master, master_events, 0};
		}
		int in_at = -1, out_at = -1;
		if (client >= 0) {
			client_at = count;
			fds[count++] = (struct pollfd){client, handshaken ? 0 : POLLIN, 0};
			if (handshaken && in_length == 0 && rx_length < sizeof rx) {
				in_at = count;
				fds[count++] = (struct pollfd){client_in, POLLIN, 0};
			}
			if (handshaken && out_length > 0) {
				out_at = count;
				fds[count++] = (struct pollfd){client_out, POLLOUT, 0};
			}
		}
		// After the shell exited, what the pty still holds is read without waiting (a job it left may keep it open).
		int timeout = shell_status >= 0 && can_read ? 0 : pending_signal ? 10 : -1;
		if (poll(fds, (nfds_t)count, timeout) < 0) {
			if (errno == EINTR) continue;
			die("poll");
		}
		signal_foreground();
		if (fds[0].revents & POLLIN) {
			char signals[16];
			ssize_t length = read(signal_pipe[0], signals, sizeof signals);
			for (ssize_t i = 0; i < length; i++) {
				if (signals[i] == SIGTERM) end_session(session);
			}
			int status;
			if (shell_status < 0 && waitpid(shell_pid, &status, WNOHANG) == shell_pid)
				shell_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		if (fds[1].revents & POLLIN) {
			int next = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (next >= 0) {
				// The newest gateway wins: an older attach that is still there is let go.
				drop_client();
				client = client_in = client_out = next;
			}
		}
		if (master_at >= 0 && (fds[master_at].revents & POLLOUT) && in_length > 0) {
			ssize_t written = write(master, in + in_start, in_length);
			if (written > 0) {
				in_start += (size_t)written;
				in_length -= (size_t)written;
				if (in_length == 0) in_start = 0;
			}
		}
		if (can_read && ((fds[master_at].revents & (POLLIN | POLLHUP | POLLERR)) || timeout == 0)) {
			char chunk[READ_CHUNK];
			ssize_t length = read(master, chunk, sizeof chunk);
			if (length > 0) {
				ring_add(chunk, (size_t)length);
				if (client >= 0 && handshaken) out_add_data('o', chunk, (size_t)length);
				// A job the shell left may write on: what it wrote just after the shell's end is the last that goes out.
				if (shell_status >= 0 && (after_exit += (size_t)length) >= RING) output_done = 1;
			} else if (length == 0 || (errno != EAGAIN && errno != EINTR)) {
				// EIO: every holder of the pty's other side is gone. Done once the shell's status is known.
				if (shell_status >= 0) output_done = 1;
				else {
					struct pollfd wait = {signal_pipe[0], POLLIN, 0};
					poll(&wait, 1, 100);
				}
			} else if (shell_status >= 0) {
				output_done = 1;
			}
		}
		if (client_at >= 0 && !handshaken && (fds[client_at].revents & POLLIN)) {
			if (!take_attach()) drop_client();
		} else if (client_at >= 0 && (fds[client_at].revents & (POLLHUP | POLLERR))) {
			drop_client();
		}
		if (client >= 0 && in_at >= 0 && (fds[in_at].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t length = read(client_in, rx + rx_length, sizeof rx - rx_length);
			if (length <= 0 && !(length < 0 && (errno == EAGAIN || errno == EINTR))) drop_client();
			else if (length > 0) {
				rx_length += (size_t)length;
				if (!take_frames()) drop_client();
			}
		}
		if (output_done && client >= 0 && handshaken && !exit_sent) send_exit();
		if (client >= 0 && handshaken && out_length > 0 && (out_at < 0 || (fds[out_at].revents & (POLLOUT | POLLERR)))) {
			ssize_t written = write(client_out, out + out_start, out_length);
			if (written > 0) {
				out_start += (size_t)written;
				out_length -= (size_t)written;
				if (out_length == 0) out_start = 0;
			} else if (written < 0 && errno != EAGAIN && errno != EINTR) {
				drop_client();
			}
		}
		// The gateway has every byte and the status: the session is over, with what the shell left running.
		if (exit_sent && client >= 0 && out_length == 0) end_session(session);
	}
}

/* Forks the session's daemon; returns once it listens (the caller holds the session's lock). */
static void start_daemon(const char *session, const char *term, int cols, int rows) {
	int ready[2];
	if (pipe2(ready, O_CLOEXEC) < 0) die("pipe");
	pid_t child = fork();
	if (child < 0) die("fork");
	if (child > 0) {
		close(ready[1]);
		char byte;
		ssize_t length;
		while ((length = read(ready[0], &byte, 1)) < 0 && errno == EINTR) {
		}
		waitpid(child, NULL, 0);
		if (length != 1) {
			fprintf(stderr, "podlab-terminal-relay: the session %s could not be started\n", session);
			exit(1);
		}
		close(ready[0]);
		return;
	}
	close(ready[0]);
	close(lock);
	setsid();
	if (fork() != 0) _exit(0);

	// The daemon: nothing of the exec's (its stdio is the gateway's pipes), no controlling terminal.
	int null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	if (null > 2) close(null);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0) die("pipe");
	struct sigaction action = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
	sigaction(SIGCHLD, &action, NULL);
	sigaction(SIGTERM, &action, NULL);

	char path[600];
	path_of(path, sizeof path, session, "sock");
	unlink(path);
	struct sockaddr_un address = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof address.sun_path) die("socket path too long");
	strcpy(address.sun_path, path);
	listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) < 0 || listen(listener, 4) < 0) die("cannot listen");
	chmod(path, 0600);

	start_shell(session, term, cols, rows);
	path_of(path, sizeof path, session, "pid");
	FILE *pid = fopen(path, "w");
	if (pid) {
		fprintf(pid, "%d\n", getpid());
		fclose(pid);
	}
	(void)!write(ready[1], "r", 1);
	close(ready[1]);
	// Errors from here on have nobody to read them.
	dup2(1, 2);
	daemon_loop(session);
}

/* ---- the gateway's side: attach and end ---- */

static int connect_to(const char *session) {
	char path[600];
	path_of(path, sizeof path, session, "sock");
	struct sockaddr_un address = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof address.sun_path) return -1;
	strcpy(address.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) return -1;
	if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A connection to the gateway's socket for this lab, which has been told TOKEN; -1 when the socket
 * is not there or does not take it at once (the exec's pipes serve then).
 */
static int connect_gateway(const char *socket_path, const char *token) {
	struct sockaddr_un address = {.sun_family = AF_UNIX};
	if (strlen(socket_path) >= sizeof address.sun_path) return -1;
	strcpy(address.sun_path, socket_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) return -1;
	// Non-blocking: a gateway whose queue is full is not waited for.
	if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0 || write(fd, token, TOKEN_LENGTH) != TOKEN_LENGTH) {
		close(fd);
		return -1;
	}
	return fd;
}

static int attach(const char *session, const char *nonce, int cols, int rows, const char *term, const char *socket_path, const char *token) {
	char path[600], temporary[640];
	path_of(path, sizeof path, session, "nonce");
	snprintf(temporary, sizeof temporary, "%s.%d", path, getpid());
	int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, nonce, strlen(nonce)) < 0 || write_all(fd, "\n", 1) < 0 || close(fd) < 0 || rename(temporary, path) < 0) die("cannot write the nonce");

	path_of(path, sizeof path, session, "lock");
	lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX) < 0) die("cannot lock the session");
	int session_fd = connect_to(session);
	if (session_fd < 0) {
		start_daemon(session, term, cols, rows);
		session_fd = connect_to(session);
		if (session_fd < 0) die("cannot connect to the session");
	}
	close(lock);
	int gateway = socket_path ? connect_gateway(socket_path, token) : -1;
	// The attach frame, with the gateway's end: the daemon reads and writes it itself.
	unsigned char hello[HEADER + 4] = {gateway >= 0 ? 'D' : 'A', 0, 4, (unsigned char)(cols >> 8), (unsigned char)cols, (unsigned char)(rows >> 8), (unsigned char)rows};
	union {
		char buffer[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} control;
	memset(&control, 0, sizeof control);
	struct iovec io = {hello, sizeof hello};
	struct msghdr message = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = control.buffer, .msg_controllen = sizeof control.buffer};
	struct cmsghdr *header = CMSG_FIRSTHDR(&message);
	header->cmsg_level = SOL_SOCKET;
	header->cmsg_type = SCM_RIGHTS;
	header->cmsg_len = CMSG_LEN(2 * sizeof(int));
	int ends[2] = {gateway >= 0 ? gateway : 0, gateway >= 0 ? gateway : 1};
	memcpy(CMSG_DATA(header), ends, sizeof ends);
	if (sendmsg(session_fd, &message, MSG_NOSIGNAL) != (ssize_t)sizeof hello) die("cannot reach the session");
	// The daemon has the gateway's connection (queued with the frame): the exec is done.
	if (gateway >= 0) return 0;
	// Nothing more to do here: the exec lasts as long as this process, which the daemon ends by
	// closing the socket once it lets go of the gateway (or the gateway ends the exec).
	char byte;
	while (read(session_fd, &byte, 1) > 0 || errno == EINTR) {
	}
	return 0;
}

/*
 * Whether `pid` is the daemon of `session`: a pid file outlives a stop of the lab, and after the
 * lab's next boot its number may be another process's. The daemon's command line is its attach's.
 */
static int is_daemon_of(int pid, const char *session) {
	char path[64], line[512];
	snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
	int fd = open(path, O_RDONLY);
	if (fd < 0) return 0;
	ssize_t length = read(fd, line, sizeof line - 1);
	close(fd);
	if (length <= 0) return 0;
	line[length] = 0;
	const char *word = line, *end = line + length;
	const char *expected[] = {NULL, "attach", session};
	for (int i = 0; i < 3; i++) {
		if (word >= end) return 0;
		if (expected[i] && strcmp(word, expected[i]) != 0) return 0;
		word += strlen(word) + 1;
	}
	return 1;
}

static int end(const char *pattern) {
	DIR *sessions = opendir(dir);
	if (!sessions) return 0;
	pid_t daemons[256];
	int count = 0;
	struct dirent *entry;
	while ((entry = readdir(sessions))) {
		char name[256];
		size_t length = strlen(entry->d_name);
		if (length < 5 || length >= sizeof name || strcmp(entry->d_name + length - 4, ".pid") != 0) continue;
		memcpy(name, entry->d_name, length - 4);
		name[length - 4] = 0;
		if (!valid_name(name, 0) || fnmatch(pattern, name, 0) != 0) continue;
		char path[600], text[32] = {0};
		path_of(path, sizeof path, name, "pid");
		int fd = open(path, O_RDONLY | O_NOFOLLOW);
		if (fd < 0) continue;
		(void)!read(fd, text, sizeof text - 1);
		close(fd);
		int pid = number_in(strtok(text, "\n") ? text : "", 2, 1 << 30);
		if (pid > 0 && is_daemon_of(pid, name) && kill(pid, SIGTERM) == 0 && count < 256) daemons[count++] = pid;
		else {
			// No daemon: only its files are left.
			const char *suffixes[] = {"sock", "pid", "nonce", "shell", "lock"};
			for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
				path_of(path, sizeof path, name, suffixes[i]);
				unlink(path);
			}
		}
	}
	closedir(sessions);
	// Each daemon takes a second (the grace after the hangup); wait for them, a little longer.
	for (int tries = 0; tries < 30; tries++) {
		int left = 0;
		for (int i = 0; i < count; i++) left += kill(daemons[i], 0) == 0;
		if (!left) break;
		struct timespec tenth = {0, 100 * 1000 * 1000};
		nanosleep(&tenth, NULL);
	}
	return 0;
}

int main(int argc, char **argv) {
	const char *home = getenv("HOME");
	if (!home || !*home) home = "/root";
	snprintf(dir, sizeof dir, "%s/.podlab/sessions", home);
	mkdir(dir, 0700);
	if ((argc == 7 || argc == 9) && strcmp(argv[1], "attach") == 0) {
		int cols = number_in(argv[4], 1, 1000), rows = number_in(argv[5], 1, 1000);
		const char *socket_path = argc == 9 ? argv[7] : NULL, *token = argc == 9 ? argv[8] : NULL;
		int direct_ok = !socket_path || (socket_path[0] == '/' && valid_name(token, 0) && strlen(token) == TOKEN_LENGTH);
		if (valid_name(argv[2], 0) && valid_name(argv[3], 0) && cols > 0 && rows > 0 && valid_name(argv[6], 0) && direct_ok) return attach(argv[2], argv[3], cols, rows, argv[6], socket_path, token);
	} else if (argc == 2 && strcmp(argv[1], "protocol") == 0) {
		puts(PROTOCOL);
		return 0;
	} else if (argc == 3 && strcmp(argv[1], "end") == 0 && valid_name(argv[2], 1)) {
		return end(argv[2]);
	}
	fprintf(stderr, "usage: podlab-terminal-relay attach SESSION NONCE COLS ROWS TERM [SOCKET TOKEN] | end PATTERN | protocol\n");
	return 2;
}
