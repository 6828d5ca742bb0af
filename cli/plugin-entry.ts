/**
 * Entry point of the single-file executables (Node single executable applications) that the
 * DC/OS CLI runs as `dcos registry`: it executes `<path> registry <args...>`, so argv[1] is the
 * command name, which parseCommandLine accepts and drops. Built by scripts/build-plugin.ts.
 */
import { cli } from './main';

cli().catch((err: unknown) => {
  process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
