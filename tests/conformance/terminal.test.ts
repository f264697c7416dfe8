/** The terminal conformance suite (terminal.conformance.ts) against every backend of backends.ts. */
import { BACKENDS } from './backends.ts';
import { describeTerminalConformance } from './terminal.conformance.ts';

for (const backend of BACKENDS) describeTerminalConformance(backend);
