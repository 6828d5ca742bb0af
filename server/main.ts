/**
 * Entry point of the production server (`npm run serve`, or `node dist/server.js`).
 * Registry settings come from the environment (lib/config.ts, checked here before
 * listening so a bad variable fails at start); server settings from flags (options.ts).
 * SIGTERM/SIGINT: stop accepting, finish in-flight requests and scheduled runs, exit 0.
 */
import { config } from '../lib/config';
import { describeError, log } from '../lib/log';
import { createRegistry } from '../lib/registry';
import { parseServerOptions, USAGE } from './options';
import { createRegistryServer } from './server';
import { scheduledFunctions, startSchedules } from './schedules';
import { startTls } from './tls';

async function main(argv: string[]): Promise<void> {
  const options = parseServerOptions(argv);
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const cfg = config();
  // Built once, here, and handed to the server; it streams request bodies to the store (REGISTRY_UPLOADS=proxy).
  const registry = createRegistry(cfg, { streamsBodies: true });
  // A certificate from the DC/OS CA (--tls-dcos-service-account): obtained before listening, renewed in place.
  const tls = await startTls(options);
  const server = createRegistryServer(options, registry, tls?.current);
  const address = await server.listen();
  tls?.keepFresh((material) => server.setSecureContext(material));
  const scheme = options.tls || tls ? 'https' : 'http';
  const url = `${scheme}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  // On stdout whatever the log level: scripts and supervisors wait for this line (--port 0).
  process.stdout.write(`dcos-registry server listening on ${url}\n`);
  log.info('listening', {
    url,
    port: address.port,
    storage: cfg.storage.kind,
    downloads: cfg.downloads,
    uploads: cfg.uploads,
    writes: cfg.writeTokens.length > 0 || (cfg.jwt?.writers.length ?? 0) > 0,
    ...(cfg.jwt?.writers.length ? { writers: cfg.jwt.writers } : {}),
    pid: process.pid,
  });
  const schedules = startSchedules(options.schedules, scheduledFunctions(registry));

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    tls?.stop();
    log.info('shutting down', { signal, inFlight: server.inFlight });
    const [result] = await Promise.all([server.shutdown(), schedules.stop()]);
    log.info('stopped', result);
    // The SDK's keep-alive sockets and timers would hold the process open for a while.
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main(process.argv.slice(2)).catch((error) => {
  log.error('server failed to start', describeError(error));
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
