/**
 * Matches a request to an API Gateway route key the way HTTP APIs do: `{name}` takes one
 * path segment, `{key+}` (greedy) takes the rest; literal segments win over parameters.
 * Path parameters are percent-decoded (as API Gateway and serverless-offline pass them).
 * HEAD falls back to the GET route (serverless-offline ignores HEAD routes; the handler
 * glue answers HEAD from the GET route and drops the body).
 */
export interface RouteMatch<T> {
  routeKey: string;
  /** The path as matched: without the trailing slash when the route matched without it (serverless-offline's rawPath). */
  path: string;
  pathParameters: Record<string, string>;
  target: T;
}

interface Compiled<T> {
  method: string;
  routeKey: string;
  segments: Array<{ literal: string } | { param: string; greedy: boolean }>;
  literals: number;
  greedy: boolean;
  target: T;
}

function compile<T>(routeKey: string, target: T): Compiled<T> {
  const m = /^([A-Z]+) (\/.*)$/.exec(routeKey);
  if (!m) throw new Error(`Bad route key: ${routeKey}`);
  const parts = m[2] === '/' ? [] : m[2].slice(1).split('/');
  const segments = parts.map((p, i) => {
    const param = /^\{([A-Za-z0-9_]+)(\+)?\}$/.exec(p);
    if (!param) return { literal: p };
    if (param[2] && i !== parts.length - 1) throw new Error(`Greedy parameter must be last: ${routeKey}`);
    return { param: param[1], greedy: Boolean(param[2]) };
  });
  return {
    method: m[1],
    routeKey,
    segments,
    literals: segments.filter((s) => 'literal' in s).length,
    greedy: segments.some((s) => 'greedy' in s && s.greedy),
    target,
  };
}

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

export class Router<T> {
  private readonly routes: Compiled<T>[];

  constructor(table: Iterable<[routeKey: string, target: T]>) {
    this.routes = [...table]
      .map(([key, target]) => compile(key, target))
      // Most specific first: non-greedy before greedy, then more literal segments.
      .sort((a, b) => Number(a.greedy) - Number(b.greedy) || b.literals - a.literals);
  }

  /** Route for method + raw (percent-encoded) path, or undefined (404). */
  match(method: string, rawPath: string): RouteMatch<T> | undefined {
    const exact = this.find(method, rawPath) ?? (method === 'HEAD' ? this.find('GET', rawPath) : undefined);
    // A trailing slash names the same route, as under API Gateway and serverless-offline
    // (`GET /v2/` is the first request of every Docker client).
    return exact ?? (rawPath.length > 1 && rawPath.endsWith('/') ? this.match(method, rawPath.slice(0, -1)) : undefined);
  }

  /** Methods that have a route for this path (404 vs 405 diagnostics). */
  methodsFor(rawPath: string): string[] {
    return [...new Set(this.routes.filter((r) => this.params(r, rawPath)).map((r) => r.method))];
  }

  /** The targets of every route for this path, whatever the method (CORS preflight). */
  routesFor(rawPath: string): T[] {
    const path = rawPath.length > 1 && rawPath.endsWith('/') ? rawPath.slice(0, -1) : rawPath;
    return this.routes.filter((r) => this.params(r, rawPath) || this.params(r, path)).map((r) => r.target);
  }

  private find(method: string, rawPath: string): RouteMatch<T> | undefined {
    for (const r of this.routes) {
      if (r.method !== method) continue;
      const pathParameters = this.params(r, rawPath);
      if (pathParameters) return { routeKey: r.routeKey, path: rawPath, pathParameters, target: r.target };
    }
    return undefined;
  }

  private params(r: Compiled<T>, rawPath: string): Record<string, string> | undefined {
    const parts = rawPath === '/' ? [] : rawPath.replace(/^\//, '').split('/');
    const out: Record<string, string> = {};
    for (let i = 0; i < r.segments.length; i++) {
      const s = r.segments[i];
      if ('literal' in s) {
        if (parts[i] !== s.literal) return undefined;
        continue;
      }
      if (s.greedy) {
        const rest = parts.slice(i);
        if (rest.length === 0 || rest.some((p) => p === '')) return undefined;
        const decoded = rest.map(decode);
        if (decoded.some((d) => d === undefined)) return undefined;
        out[s.param] = decoded.join('/');
        return out;
      }
      const value = parts[i] === undefined || parts[i] === '' ? undefined : decode(parts[i]);
      if (value === undefined) return undefined;
      out[s.param] = value;
    }
    return parts.length === r.segments.length ? out : undefined;
  }
}
