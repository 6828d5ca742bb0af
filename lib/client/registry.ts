/** The read and remove verbs: describe, list, remove, gc. */
import { callJson, type ClientOptions } from './http';

export type DescribeBody = { name: string; version: string; status: string; releaseVersion?: number; [key: string]: unknown };
export type ListBody = { packages: { name: string; versions: { version: string; status: string; releaseVersion?: number }[] }[] };

const coordinates = (name: string, version: string) => `/package/${encodeURIComponent(name)}/${encodeURIComponent(version)}`;

export async function describePackage(opts: ClientOptions, name: string, version: string): Promise<DescribeBody> {
  return (await callJson<DescribeBody>(opts, 'GET', coordinates(name, version))).body;
}

export async function listPackages(opts: ClientOptions): Promise<ListBody> {
  return (await callJson<ListBody>(opts, 'GET', '/package')).body;
}

export async function removePackage(opts: ClientOptions, name: string, version: string): Promise<DescribeBody> {
  return (await callJson<DescribeBody>(opts, 'DELETE', coordinates(name, version), undefined, true)).body;
}

/** POST /gc: the garbage collection the scheduled function runs, on demand. */
export async function collectGarbage(opts: ClientOptions): Promise<Record<string, unknown>> {
  return (await callJson<Record<string, unknown>>(opts, 'POST', '/gc', undefined, true)).body ?? {};
}
