/**
 * A PKCS #10 certificate signing request (RFC 2986) for a key made here, so the private key
 * never leaves the process: the CA only sees the public key and the names.
 *
 * The request is one fixed DER structure; it is written here with node:crypto doing the
 * key and the signature, rather than adding an X.509 library (the well-kept ones need a
 * global reflect-metadata polyfill and 19 packages, or are pure-JS RSA without EC keys).
 *
 *   CertificationRequest ::= SEQUENCE { info, AlgorithmIdentifier ecdsa-with-SHA256, BIT STRING signature }
 *   info ::= SEQUENCE { INTEGER 0, Name (CN), SubjectPublicKeyInfo, [0] { extensionRequest { subjectAltName } } }
 */
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, ...content: Buffer[]): Buffer => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
};
const seq = (...c: Buffer[]) => tlv(0x30, ...c);
const set = (...c: Buffer[]) => tlv(0x31, ...c);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const n of rest) {
    const chunk: number[] = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

const OID = {
  commonName: '2.5.4.3',
  extensionRequest: '1.2.840.113549.1.9.14',
  subjectAltName: '2.5.29.17',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
};

/** DNS names only (the hosts of a certificate for a VIP); each must be a valid host name. */
const HOST = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

export interface CertificateKey {
  /** PEM (PKCS #8) of the private key: stays in this process. */
  keyPem: string;
  /** PEM of the request for the CA. */
  csrPem: string;
}

export function checkHosts(hosts: readonly string[]): void {
  if (hosts.length === 0) throw new Error('a certificate needs at least one host name');
  for (const h of hosts) if (!HOST.test(h)) throw new Error(`not a DNS host name: "${h}"`);
}

/** A new P-256 key and a request for a certificate naming `hosts` (subjectAltName; CN = the first when it fits). */
export function newCertificateRequest(hosts: readonly string[]): CertificateKey {
  checkHosts(hosts);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, csrPem: requestFor(privateKey, publicKey, hosts) };
}

function requestFor(privateKey: KeyObject, publicKey: KeyObject, hosts: readonly string[]): string {
  const cn = hosts[0].length <= 64 ? hosts[0] : 'package-registry'; // X.520 ub-common-name
  const subject = seq(set(seq(oid(OID.commonName), tlv(0x0c, Buffer.from(cn, 'utf8')))));
  const san = seq(...hosts.map((h) => tlv(0x82, Buffer.from(h, 'ascii'))));
  const extensions = seq(seq(oid(OID.subjectAltName), tlv(0x04, san)));
  const attributes = tlv(0xa0, seq(oid(OID.extensionRequest), set(extensions)));
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const info = seq(tlv(0x02, Buffer.from([0])), subject, spki, attributes);
  const signature = sign('sha256', info, privateKey); // ECDSA-Sig-Value, DER
  const der = seq(info, seq(oid(OID.ecdsaWithSha256)), tlv(0x03, Buffer.from([0]), signature));
  const b64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE REQUEST-----\n${b64}-----END CERTIFICATE REQUEST-----\n`;
}
