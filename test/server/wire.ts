/** Raw HTTP over a socket, for what fetch cannot do: stall mid-request, send bodies too big. */
import net from 'node:net';

export type Step = string | Buffer | { wait: number } | { until: () => Promise<boolean> };

export interface Exchange {
  /** Everything the server sent before closing (or before the safety timeout). */
  response: string;
  status: number | undefined;
  closedByServer: boolean;
}

/** Sends the steps in order and collects the answer until the server closes the connection. */
export function exchange(port: number, steps: Step[], safetyMs = 20_000): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let response = '';
    let closedByServer = false;
    const done = () => {
      clearTimeout(safety);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(response);
      resolve({ response, status: m ? Number(m[1]) : undefined, closedByServer });
    };
    const safety = setTimeout(() => {
      socket.destroy();
    }, safetyMs);
    socket.on('data', (d) => (response += d.toString('latin1')));
    socket.on('end', () => (closedByServer = true));
    socket.on('error', () => undefined);
    socket.on('close', done);
    socket.on('connect', async () => {
      for (const step of steps) {
        if (socket.destroyed) return;
        if (typeof step === 'string' || Buffer.isBuffer(step)) {
          await new Promise<void>((r) => socket.write(step, () => r()));
        } else if ('wait' in step) await new Promise((r) => setTimeout(r, step.wait));
        else while (!(await step.until())) await new Promise((r) => setTimeout(r, 50));
      }
    });
  });
}

export function head(method: string, path: string, headers: Record<string, string | number>): string {
  return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
}
