/**
 * Docker image references, parsed the way the Docker CLI normalises them
 * (github.com/distribution/reference: ParseNormalizedNamed):
 *
 *   [domain[:port]/]path[:tag][@sha256:hex]
 *
 * - The first path component is a domain only if it contains "." or ":", is "localhost", or has an
 *   upper-case letter; otherwise the domain is docker.io.
 * - docker.io names with a single component get "library/" in front; index.docker.io means docker.io.
 * - The path must be lower case; the domain may not be.
 * - No tag and no digest means ":latest". With both, the digest decides what is pulled.
 */
import { ImageReferenceError } from './errors.js';

export const DOCKER_HUB = 'docker.io';
/** Docker Hub's API lives on another host than its name. */
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

export interface ImageReference {
  /** Registry name as written in references: "docker.io", "quay.io", "127.0.0.1:5000". */
  readonly registry: string;
  /** Repository path inside the registry: "library/nginx", "mesosphere/marathon". */
  readonly repository: string;
  readonly tag?: string;
  /** "sha256:<64 hex>" */
  readonly digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN =
  /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;
const MAX_NAME_LENGTH = 255;

export function parseImageReference(input: string): ImageReference {
  const fail = (reason: string): never => {
    throw new ImageReferenceError(input, reason);
  };
  if (input === '') fail('empty');
  if (input !== input.trim()) fail('surrounding whitespace');

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) fail('invalid digest');
    if (!SHA256_DIGEST.test(digest!)) fail('only lower-case sha256 digests are supported');
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) fail('invalid tag');
  }

  let registry = DOCKER_HUB;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.toLowerCase() !== first) {
      registry = first;
      path = rest.slice(slash + 1);
      if (!DOMAIN.test(registry)) fail('invalid registry host');
    }
  }
  if (registry === 'index.docker.io') registry = DOCKER_HUB;
  if (path === '') fail('empty repository');
  if (path.toLowerCase() !== path) fail('repository name must be lowercase');
  for (const component of path.split('/')) {
    if (!COMPONENT.test(component)) fail(`invalid repository path component "${component}"`);
  }
  if (registry === DOCKER_HUB && !path.includes('/')) {
    if (/^[a-f0-9]{64}$/.test(path)) fail('repository name must not be a 64-character hex string');
    path = `library/${path}`;
  }
  if (registry.length + 1 + path.length > MAX_NAME_LENGTH) fail(`name longer than ${MAX_NAME_LENGTH} characters`);

  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository: path, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** Canonical form: "docker.io/library/nginx:latest", "host:5000/a/b@sha256:…", tag before digest. */
export function formatImageReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** Host (and port) the HTTP API is served on. */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry;
}

/** Loopback registries (127.0.0.0/8, localhost, ::1) speak plain HTTP, as Docker allows by default. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = hostOf(registry);
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/** "host:port" → "host"; "[::1]:5000" → "::1". */
export function hostOf(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(1, registry.indexOf(']'));
  const colon = registry.lastIndexOf(':');
  return colon >= 0 ? registry.slice(0, colon) : registry;
}
