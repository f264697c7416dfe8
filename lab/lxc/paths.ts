/**
 * Where the LXC labs live on the host. Everything is under /var/lib/podlab/lxc, podlab's own
 * directory: nothing in /etc/lxc or /var/lib/lxc is touched, and every lxc-* command gets
 * `-P LABS_DIR`, so `lxc-ls` without it shows none of podlab's labs and podlab sees no one else's.
 */
import { LAB_STATE_DIR } from '../lib/paths.ts';

export const LXC_DIR = `${LAB_STATE_DIR}/lxc`;

/**
 * A sparse file holding one btrfs filesystem, loop-mounted at POOL_DIR: the base is a read-only
 * subvolume and each lab's root a snapshot of it, so a lab costs only the blocks it changes, and
 * a btrfs quota group bounds what it may change. (The host's own filesystem is ext4, without
 * snapshots or reflinks; see docs/lxc-labs.md for the choice.)
 */
export const POOL_IMAGE = `${LXC_DIR}/pool.img`;
export const POOL_DIR = `${LXC_DIR}/pool`;

/** The read-only base subvolume every lab is snapshotted from. */
export const BASE_DIR = `${POOL_DIR}/base`;
/** Where a new base is assembled before it replaces BASE_DIR (a failed build leaves no half base). */
export const BASE_BUILD_DIR = `${POOL_DIR}/base-build`;

/** LXC's lxcpath for podlab's labs: LABS_DIR/<name>/{config,rootfs}. */
export const LABS_DIR = `${POOL_DIR}/labs`;

/** The LXC settings every lab includes (written by lab:setup). */
export const LAB_COMMON_CONF = `${LXC_DIR}/lab-common.conf`;

/** Per-lab host directories bind-mounted read-only into the lab (its kernel log). */
export const KERNEL_LOG_DIR = `${LXC_DIR}/kernel-log`;

/**
 * When the gateway last finished reading the kernel's buffer (ms since the epoch), bind-mounted
 * read-only into every lab: its `dmesg` waits until a read that began after it started is done.
 */
export const KERNEL_LOG_DRAINED_FILE = `${KERNEL_LOG_DIR}/drained-at`;

/** Stamp in the base naming the recipe it was built from (see base.ts). */
export const BASE_RECIPE_FILE = `${BASE_DIR}/etc/podlab-base-recipe`;

/**
 * debootstrap's result, kept read-only so that a change to podlab's files or images rebuilds the
 * base in seconds; rebuilt only when the package list or the Debian release changes.
 */
export const BOOTSTRAP_DIR = `${POOL_DIR}/bootstrap`;
export const BOOTSTRAP_BUILD_DIR = `${POOL_DIR}/bootstrap-build`;
export const BOOTSTRAP_RECIPE_FILE = `${BOOTSTRAP_DIR}/etc/podlab-bootstrap-recipe`;

/** The prefix of every LXC container podlab creates; other names are never touched. */
export const LAB_NAME_PREFIX = 'podlab-';
