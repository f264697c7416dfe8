/**
 * Where podlab's labs live in Incus and on each Incus host. Everything podlab makes in Incus is in
 * a project of its own, so `incus list` without `--project podlab` shows none of it, an operator's
 * own instances never mix with readers' labs, and podlab never lists or touches anything outside it.
 */
import { LAB_STATE_DIR } from '../lib/paths.ts';

/** The Incus project of podlab's labs (its own images and profiles: `features.images`, `features.profiles`). */
export const PROJECT = 'podlab';
/** The storage pool of the labs' roots: btrfs, so that a lab is a snapshot of the image (see docs/labs.md). */
export const STORAGE_POOL = 'podlab';
/** The profile every lab gets: limits, nesting, no network device, the kernel log (lab-profile.ts). */
export const LAB_PROFILE = 'lab';
/** The profile of the kernel-log reader on each host: privileged, the host's /dev/kmsg. */
export const KERNEL_LOG_PROFILE = 'kernel-log';
/** The alias of the lab image (podlab's base, built by `lab:setup`). */
export const LAB_IMAGE = 'podlab-base';

/** The unix socket of an Incus daemon on this machine (Debian's and Ubuntu's packages put it here). */
export const LOCAL_SOCKET = '/var/lib/incus/unix.socket';

/** podlab's own files for Incus on a host: the id range file, the daemon's log when podlab runs it, the debootstrap cache. */
export const INCUS_STATE_DIR = `${LAB_STATE_DIR}/incus`;

/**
 * The subordinate id range Incus gives labs on a host that podlab started Incus on: bind-mounted
 * over /etc/subuid and /etc/subgid in the daemon's own mount namespace, so the range is Incus's
 * alone whatever else the host delegates to root (daemon.ts).
 */
export const SUBID_FILE = `${INCUS_STATE_DIR}/subid`;

/**
 * The kernel-log tree on every Incus host: `<gateway>/drained-at` and `<gateway>/<lab>/kmsg`,
 * written by the host's kernel-log reader, read-only in every lab (server/backends/incus/kernel-log.ts).
 * `lab:setup` makes it; a host without it cannot start labs.
 */
export const KERNEL_LOG_DIR = `${LAB_STATE_DIR}/kernel-log`;
/** Where a lab (read-only) and a kernel-log reader (writable) see KERNEL_LOG_DIR. */
export const LAB_KERNEL_LOG_MOUNT = '/var/log/podlab';
/**
 * The gateways' terminal sockets on an Incus host: `<gateway>/<lab>/terminals.sock`, one listening
 * socket of a gateway for each of its labs, each lab's directory mounted (read-only) in that lab
 * alone (server/backends/incus/terminal-sockets.ts).
 */
export const TERMINAL_SOCKET_DIR = `${LAB_STATE_DIR}/terminals`;
/** Where a lab sees its directory of TERMINAL_SOCKET_DIR. */
export const LAB_TERMINAL_SOCKET_MOUNT = '/var/lib/podlab-gateway';
/** Where the lab image has podlab's terminal relay (lab/incus/files/terminal-relay.c), which readers' terminals attach to. */
export const TERMINAL_RELAY_BINARY = '/usr/local/sbin/podlab-terminal-relay';
/** Where the lab image has the relay's source, which it is built from. */
export const TERMINAL_RELAY_SOURCE = '/usr/local/src/podlab/terminal-relay.c';

/** The shell command that builds the terminal relay in a lab (the image's build, and an older lab's update). */
export function buildTerminalRelay(output: string = TERMINAL_RELAY_BINARY, source: string = TERMINAL_RELAY_SOURCE): string {
	return `gcc -O2 -Wall -Werror -o ${output} ${source}`;
}
