/**
 * Where the lab keeps its state. Fixed paths, because the gateway finds the env file there by
 * default (`labEnvFile` in server/config.ts) and lab shells use the containers.conf it names.
 */
import { fileURLToPath } from 'node:url';

/** podlab's own state on the lab machine; nothing under /etc is edited. */
export const LAB_STATE_DIR = '/var/lib/podlab';

/** The podlab-owned containers.conf, used through CONTAINERS_CONF (never /etc/containers/*). */
export const CONTAINERS_CONF_PATH = `${LAB_STATE_DIR}/containers.conf`;

/** KEY=value lines the gateway exports into every lab shell (CONTAINERS_CONF, PODLAB_LAB_DIR). */
export const LAB_ENV_PATH = `${LAB_STATE_DIR}/lab.env`;

/** Scratch directory for the files chapters create (memstress.c, binaries); emptied by lab:reset. */
export const LAB_WORK_DIR = `${LAB_STATE_DIR}/work`;

/** Full output of the last lab:setup, for when a step fails. */
export const SETUP_LOG_PATH = `${LAB_STATE_DIR}/setup.log`;

/** Temporary image root filesystems; removed after each build. */
export const BUILD_DIR = '/var/cache/podlab/build';

/** This checkout's lab/ directory (sources such as memstress.c and the image files). */
export const LAB_SOURCE_DIR = fileURLToPath(new URL('..', import.meta.url));
