/**
 * Stands in for DC/OS's VIP (dcos-l4lb and its DNS name): an HTTP CONNECT proxy that takes
 * `<vip-host>:<vip-port>` to the task's 127.0.0.1:PORT0 and refuses anything else. Clients
 * (the CLI through HTTPS_PROXY, skopeo through HTTPS_PROXY, fetch through undici's
 * ProxyAgent) then speak TLS end to end to the registry under the VIP name, so certificate
 * names are checked exactly as on a cluster. Every CONNECT target is recorded.
 */
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface VipProxy {
  url: string;
  targets: string[];
  close(): Promise<void>;
}

export async function startVipProxy(routes: Record<string, number>): Promise<VipProxy> {
  const targets: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((_req, res) => res.writeHead(405).end('CONNECT only'));
  server.on('connect', (req, client: Socket, head: Buffer) => {
    const target = req.url ?? '';
    targets.push(target);
    const port = routes[target];
    if (!port) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    sockets.add(client);
    const upstream = connect(port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    const done = () => {
      sockets.delete(client);
      sockets.delete(upstream);
    };
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', done);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    targets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
