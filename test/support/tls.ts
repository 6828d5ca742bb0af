/**
 * A self-signed certificate for 127.0.0.1 (openssl, RSA 2048, one day), written into a directory:
 * the key and certificate of a test HTTPS server, and the certificate as the client's CA.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

export interface SelfSignedCertificate {
  keyFile: string;
  certFile: string;
  key: Buffer;
  cert: Buffer;
}

export async function selfSignedCertificate(dir: string): Promise<SelfSignedCertificate> {
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]);
  return { keyFile, certFile, key: await readFile(keyFile), cert: await readFile(certFile) };
}
