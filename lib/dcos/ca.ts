/**
 * The DC/OS CA: cfssl's HTTP API behind Admin Router (`/ca/api/v2/<endpoint>` is a rewrite of
 * cfssl's `/api/v1/cfssl/<endpoint>`, so the base URL is configurable and a bare cfssl works
 * too). `sign` takes `{"certificate_request": <PEM>, "hosts": [...]}` and answers
 * `{"success": true, "result": {"certificate": <PEM>}}`, or `"success": false` with
 * `errors: [{code, message}]`. Through Admin Router the call needs the service account's
 * token (permission dcos:adminrouter:ops:ca:rw).
 */
export class CaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaError';
  }
}

/** Admin Router's CA API on the host of the login endpoint (the master the account logs in at). */
export function defaultCaUrl(loginEndpoint: string): string {
  return new URL('/ca/api/v2', loginEndpoint).toString();
}

export interface SignRequest {
  caUrl: string;
  /** DC/OS authentication token; omitted for a bare cfssl. */
  authToken?: string;
  csrPem: string;
  hosts: readonly string[];
}

export async function signCertificate(req: SignRequest, fetchFn: typeof fetch = fetch): Promise<string> {
  const url = `${req.caUrl.replace(/\/+$/, '')}/sign`;
  let res: Response;
  try {
    res = await fetchFn(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        ...(req.authToken ? { authorization: `token=${req.authToken}` } : {}),
      },
      body: JSON.stringify({ certificate_request: req.csrPem, hosts: req.hosts }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new CaError(`DC/OS CA at ${url} unreachable: ${(error as Error).cause ?? (error as Error).message}`);
  }
  const text = await res.text();
  let body: { success?: boolean; result?: { certificate?: unknown }; errors?: Array<{ message?: string }> } = {};
  try {
    body = JSON.parse(text);
  } catch {
    /* reported below */
  }
  const reasons = (body.errors ?? []).map((e) => e.message).filter(Boolean);
  if (!res.ok || body.success !== true) {
    throw new CaError(`DC/OS CA at ${url} refused to sign: HTTP ${res.status}${reasons.length ? `: ${reasons.join('; ')}` : ''}`);
  }
  const cert = body.result?.certificate;
  if (typeof cert !== 'string' || !cert.includes('BEGIN CERTIFICATE'))
    throw new CaError(`DC/OS CA at ${url}: the answer has no certificate`);
  return cert;
}
