/**
 * Settings of the lab backends (PODLAB_LAB_BACKEND and each backend's own), to spread into the
 * gateway's config schema: the config reads backend settings from here, never from a backend's folder.
 */
export { LAB_BACKEND_ENV_NAMES, LAB_BACKEND_HINTS, labBackendProblems, labBackendSettings, type LabBackendSettings } from './ssh/settings.ts';
