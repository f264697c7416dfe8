/*
 * podlab's kernel-log relay (lab/incus/files/kernel-log-relay.c), built into the lab image as
 * /usr/local/sbin/podlab-kernel-log-relay. The gateway runs it in the kernel-log reader of each Incus
 * host: a privileged instance with the host's /dev/kmsg at /dev/podlab-kmsg and the host's
 * kernel-log tree writable at /var/log/podlab (server/backends/incus/kernel-log.ts).
 *
 *   podlab-kernel-log-relay GATEWAY
 *
 * To the gateway (stdout), one line each:
 *   B <boot id>            first: which boot of the host the records belong to
 *   R <record>             a kernel record's first line (prio,seq,usec,flags;text: the kernel escapes
 *                          unprintable bytes), dictionary lines dropped
 *   D <ms>                 every record logged before <ms> (epoch milliseconds) has been sent
 *   O <id> | E <id> <why>  a command done | refused
 * From the gateway (stdin), one line each:
 *   <id> mkdir <lab> <uid>    make GATEWAY/<lab>/ (mode 700, owned by the lab's root) and its empty kmsg
 *   <id> report <lab> <cgroup> <hex>
 *                             append an OOM report to GATEWAY/<lab>/kmsg (past 1 MiB it keeps its newer
 *                             half) if the kernel counted an OOM kill in <cgroup> since the last report
 *                             taken for it: see below
 *   <id> remove <lab>         remove GATEWAY/<lab>/
 *   <id> drained <ms>         the gateway routed everything before <ms>: written to GATEWAY/drained-at
 *
 * A lab's root can make the kernel print text of their choosing, so a report is not believed for
 * what it says: the kernel's own count of OOM kills in the cgroup the report names (`task_memcg=`,
 * a cgroup of that lab, read from the host's cgroup tree at /podlab-host-cgroup) must have gone
 * up since the last report taken for that cgroup (GATEWAY/<lab>/oom-seen: "<count> <cgroup>" lines).
 *
 * GATEWAY/drained-at is what a lab's `dmesg` waits on. While nothing is waiting for the gateway
 * (every record sent was acknowledged with `drained`), the relay writes it itself, at most ten times
 * a second; a record is sent as soon as the kernel logs it.
 *
 * C, because the lab image has a compiler (the OOM chapter builds with it) and no interpreter with
 * a clock and non-blocking reads in its base; the relay is a loop over poll() with fixed buffers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define ROOT "/var/log/podlab"
#define HOST_CGROUP "/podlab-host-cgroup" /* HOST_CGROUP_MOUNT in lab/incus/lab-profile.ts */
#define MAX_LOG (1024 * 1024)
/* The longest command: a whole OOM report, hex-encoded, with room to spare. */
#define MAX_LINE (2 * 1024 * 1024)
#define MAX_NAME 63

static char gateway_dir[256];
static char line[MAX_LINE + 1];
static size_t line_length;
static long long marked, acked;

static long long now_ms(void) {
	struct timeval now;
	gettimeofday(&now, NULL);
	return (long long)now.tv_sec * 1000 + now.tv_usec / 1000;
}

/* A lab or gateway name: [a-z0-9][a-z0-9-]*, at most 63 characters (an Incus instance name). */
static int valid_name(const char *name) {
	size_t length = strlen(name);
	if (length == 0 || length > MAX_NAME || name[0] == '-') return 0;
	for (size_t i = 0; i < length; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '-')) return 0;
	return 1;
}

static int write_all(int fd, const char *bytes, size_t length) {
	while (length > 0) {
		ssize_t written = write(fd, bytes, length);
		if (written < 0) {
			if (errno == EINTR) continue;
			return -1;
		}
		bytes += written;
		length -= (size_t)written;
	}
	return 0;
}

/* Replaces `path` with `bytes` (a new file renamed over it), mode 0644. */
static int replace_file(const char *path, const char *bytes, size_t length) {
	char temporary[512];
	snprintf(temporary, sizeof temporary, "%s.tmp", path);
	int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) return -1;
	int failed = write_all(fd, bytes, length) || fchmod(fd, 0644);
	if (close(fd) != 0 || failed) return -1;
	return rename(temporary, path);
}

/* Past MAX_LOG bytes, the log keeps its newer half, from the first whole line on. */
static int trim_log(const char *path) {
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) return -1;
	struct stat info;
	if (fstat(fd, &info) != 0 || info.st_size <= MAX_LOG) return close(fd);
	size_t keep = MAX_LOG / 2;
	char *kept = malloc(keep);
	ssize_t got = kept ? pread(fd, kept, keep, info.st_size - (off_t)keep) : -1;
	close(fd);
	if (got <= 0) {
		free(kept);
		return -1;
	}
	char *start = memchr(kept, '\n', (size_t)got);
	start = start ? start + 1 : kept;
	int result = replace_file(path, start, (size_t)(kept + got - start));
	free(kept);
	return result;
}

/*
 * A cgroup of lab `lab` as the kernel prints it: /lxc.payload.<project>_<lab>[/<name>…], names of
 * [A-Za-z0-9._:@-] that are not "." or "..", at most 300 bytes.
 */
static int valid_cgroup(const char *cgroup, const char *lab) {
	size_t length = strlen(cgroup);
	if (length > 300 || strncmp(cgroup, "/lxc.payload.", 13) != 0) return 0;
	const char *first_end = strchr(cgroup + 1, '/');
	size_t first = first_end ? (size_t)(first_end - cgroup) : length;
	size_t lab_length = strlen(lab);
	if (first < 14 + lab_length || cgroup[first - lab_length - 1] != '_' || strncmp(cgroup + first - lab_length, lab, lab_length) != 0) return 0;
	for (const char *part = cgroup + 1; part && *part; ) {
		const char *end = strchr(part, '/');
		size_t size = end ? (size_t)(end - part) : strlen(part);
		if (size == 0 || (size == 1 && part[0] == '.') || (size == 2 && part[0] == '.' && part[1] == '.')) return 0;
		for (size_t i = 0; i < size; i++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:@-", part[i])) return 0;
		part = end ? end + 1 : NULL;
	}
	return 1;
}

/* The kernel's count of OOM kills in `cgroup` (cgroup v1: memory.oom_control; v2: memory.events), or -1. */
static long long oom_kills(const char *cgroup) {
	char path[512], text[1024];
	const char *files[2][2] = { { "/v1-memory", "memory.oom_control" }, { "/v2", "memory.events" } };
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s%s%s/%s", HOST_CGROUP, files[i][0], cgroup, files[i][1]);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) continue;
		ssize_t got = read(fd, text, sizeof text - 1);
		close(fd);
		if (got <= 0) continue;
		text[got] = '\0';
		const char *found = strstr(text, "oom_kill ");
		if (found && (found == text || found[-1] == '\n')) return strtoll(found + 9, NULL, 10);
	}
	return -1;
}

/* The count last taken for `cgroup` in `seen_path` (0 when none), and rewrites the file with `take` for it when take >= 0. */
static long long seen_kills(const char *seen_path, const char *cgroup, long long take) {
	static char kept[65536];
	size_t kept_length = 0;
	long long seen = 0;
	FILE *file = fopen(seen_path, "re");
	char entry[400];
	while (file && fgets(entry, sizeof entry, file)) {
		char *space = strchr(entry, ' ');
		if (!space) continue;
		entry[strcspn(entry, "\n")] = '\0';
		if (strcmp(space + 1, cgroup) == 0) {
			seen = strtoll(entry, NULL, 10);
			continue;
		}
		size_t size = strlen(entry);
		if (kept_length + size + 1 < sizeof kept - 400) {
			memcpy(kept + kept_length, entry, size);
			kept[kept_length + size] = '\n';
			kept_length += size + 1;
		}
	}
	if (file) fclose(file);
	if (take >= 0) {
		kept_length += (size_t)snprintf(kept + kept_length, sizeof kept - kept_length, "%lld %s\n", take, cgroup);
		replace_file(seen_path, kept, kept_length);
	}
	return seen;
}

static int hex_value(char digit) {
	if (digit >= '0' && digit <= '9') return digit - '0';
	if (digit >= 'a' && digit <= 'f') return digit - 'a' + 10;
	return -1;
}

/* Runs one command; returns NULL when done, else why not. */
static const char *run_command(char *verb, char **args, int count) {
	static char why[128];
	char path[512];
	if (strcmp(verb, "drained") == 0 && count == 1) {
		char *end;
		long long ms = strtoll(args[0], &end, 10);
		if (*end != '\0' || ms <= 0) return "bad time";
		acked = ms;
		char text[32];
		int length = snprintf(text, sizeof text, "%lld\n", ms);
		snprintf(path, sizeof path, "%s/drained-at", gateway_dir);
		return replace_file(path, text, (size_t)length) == 0 ? NULL : "cannot write drained-at";
	}
	if (count < 1 || !valid_name(args[0])) return "bad lab name";
	char lab_dir[400];
	snprintf(lab_dir, sizeof lab_dir, "%s/%s", gateway_dir, args[0]);
	snprintf(path, sizeof path, "%s/kmsg", lab_dir);
	if (strcmp(verb, "mkdir") == 0 && count == 2) {
		char *end;
		long uid = strtol(args[1], &end, 10);
		if (*end != '\0' || uid <= 0) return "bad uid";
		if (mkdir(lab_dir, 0700) != 0 && errno != EEXIST) return "cannot make the lab's directory";
		if (chown(lab_dir, (uid_t)uid, (gid_t)uid) != 0 || chmod(lab_dir, 0700) != 0) return "cannot give the directory to the lab";
		if (access(path, F_OK) != 0 && replace_file(path, "", 0) != 0) return "cannot make the lab's log";
		return NULL;
	}
	if (strcmp(verb, "report") == 0 && count == 3) {
		if (!valid_cgroup(args[1], args[0])) return "bad cgroup";
		char *hex = args[2];
		size_t digits = strlen(hex);
		if (digits % 2 != 0) return "odd hex";
		for (size_t i = 0; i < digits; i++)
			if (hex_value(hex[i]) < 0) return "bad hex";
		if (access(path, F_OK) != 0) return "no log for that lab";
		long long kills = oom_kills(args[1]);
		if (kills < 0) return "cannot read the cgroup's OOM kills";
		char seen_path[512];
		snprintf(seen_path, sizeof seen_path, "%s/oom-seen", lab_dir);
		long long seen = seen_kills(seen_path, args[1], -1);
		if (kills <= seen) return "the kernel counted no OOM kill there since the last report";
		seen_kills(seen_path, args[1], seen + 1);
		char *bytes = hex;
		for (size_t i = 0; i < digits / 2; i++) bytes[i] = (char)(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
		int fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) return "no log for that lab";
		int failed = write_all(fd, bytes, digits / 2);
		close(fd);
		if (failed || trim_log(path) != 0) return "cannot append to the lab's log";
		return NULL;
	}
	if (strcmp(verb, "remove") == 0 && count == 1) {
		unlink(path);
		snprintf(path, sizeof path, "%s/oom-seen", lab_dir);
		unlink(path);
		snprintf(path, sizeof path, "%s/oom-seen.tmp", lab_dir);
		unlink(path);
		snprintf(path, sizeof path, "%s/kmsg.tmp", lab_dir);
		unlink(path);
		if (rmdir(lab_dir) != 0 && errno != ENOENT) return "cannot remove the lab's directory";
		return NULL;
	}
	snprintf(why, sizeof why, "unknown command %.32s", verb);
	return why;
}

/* One command line: `<id> <verb> <args…>`, separated by single spaces. */
static void command(char *text) {
	char *words[5];
	int count = 0;
	for (char *word = strtok(text, " "); word && count < 5; word = strtok(NULL, " ")) words[count++] = word;
	if (count < 2 || strspn(words[0], "0123456789") != strlen(words[0]) || strlen(words[0]) > 12) return;
	const char *why = run_command(words[1], words + 2, count - 2);
	if (why) printf("E %s %s\n", words[0], why);
	else printf("O %s\n", words[0]);
}

/* Reads what stdin has; false once it is closed (the gateway is gone). */
static int read_commands(void) {
	if (line_length >= MAX_LINE) {
		fprintf(stderr, "podlab-kernel-log-relay: a command line is longer than %d bytes\n", MAX_LINE);
		exit(1);
	}
	ssize_t got = read(STDIN_FILENO, line + line_length, MAX_LINE - line_length);
	if (got == 0) return 0;
	if (got < 0) return errno == EINTR || errno == EAGAIN;
	line_length += (size_t)got;
	char *start = line;
	char *end;
	while ((end = memchr(start, '\n', (size_t)(line + line_length - start)))) {
		*end = '\0';
		command(start);
		start = end + 1;
	}
	line_length -= (size_t)(start - line);
	memmove(line, start, line_length);
	fflush(stdout);
	return 1;
}

/* Sends every record waiting in the kernel's buffer; true when there was any. */
static int relay_records(int kmsg) {
	static char record[16384];
	int sent = 0;
	for (;;) {
		ssize_t got = read(kmsg, record, sizeof record - 1);
		if (got < 0) {
			/* EPIPE: records were overwritten before they were read; the next read goes on after them. */
			if (errno == EPIPE || errno == EINTR) continue;
			if (errno == EAGAIN) break;
			fprintf(stderr, "podlab-kernel-log-relay: cannot read the kernel log: %s\n", strerror(errno));
			exit(1);
		}
		if (got == 0) break;
		record[got] = '\0';
		record[strcspn(record, "\n")] = '\0';
		printf("R %s\n", record);
		sent = 1;
	}
	return sent;
}

int main(int argc, char **argv) {
	if (argc != 2 || !valid_name(argv[1])) {
		fprintf(stderr, "usage: podlab-kernel-log-relay GATEWAY\n");
		return 2;
	}
	snprintf(gateway_dir, sizeof gateway_dir, "%s/%s", ROOT, argv[1]);
	umask(022);
	mkdir(ROOT, 0711);
	mkdir(gateway_dir, 0711);
	chmod(ROOT, 0711);
	chmod(gateway_dir, 0711);
	int kmsg = open("/dev/podlab-kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg < 0) {
		fprintf(stderr, "podlab-kernel-log-relay: cannot open the kernel log: %s\n", strerror(errno));
		return 1;
	}
	char boot[64] = "";
	FILE *boot_file = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (!boot_file || !fgets(boot, sizeof boot, boot_file)) {
		fprintf(stderr, "podlab-kernel-log-relay: cannot read the boot id\n");
		return 1;
	}
	fclose(boot_file);
	boot[strcspn(boot, "\n")] = '\0';
	printf("B %s\n", boot);
	fflush(stdout);
	struct pollfd watched[2] = { { .fd = kmsg, .events = POLLIN }, { .fd = STDIN_FILENO, .events = POLLIN } };
	long long written = 0;
	for (;;) {
		if (poll(watched, 2, 100) < 0 && errno != EINTR) return 1;
		if (watched[1].revents & (POLLIN | POLLHUP | POLLERR) && !read_commands()) return 0;
		long long pass = now_ms();
		if (relay_records(kmsg)) {
			printf("D %lld\n", pass);
			marked = pass;
		} else if (acked >= marked && pass - written >= 100) {
			char text[32], path[300];
			int length = snprintf(text, sizeof text, "%lld\n", pass);
			snprintf(path, sizeof path, "%s/drained-at", gateway_dir);
			replace_file(path, text, (size_t)length);
			written = pass;
		}
		fflush(stdout);
	}
}
