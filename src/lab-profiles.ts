/**
 * The labs a chapter has tabs for: podlab's offline podman lab and a Kubernetes node, in the order
 * pages list them. A module of its own, with nothing else in it: every page's lab tabs import it.
 */
export const LAB_PROFILES = ['podman', 'kubernetes'] as const;
export type LabProfile = (typeof LAB_PROFILES)[number];
