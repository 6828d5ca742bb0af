/**
 * The registry's service account, made through the APIs exactly as the seed's manual steps make it
 * with the DC/OS Enterprise CLI:
 *
 *   dcos security org service-accounts keypair private-key.pem public-key.pem
 *   dcos security secrets create-sa-secret --strict private-key.pem <uid> <secret>
 *   dcos security org service-accounts create -p public-key.pem -d "<description>" <uid>
 *   dcos security org users grant <uid> dcos:adminrouter:ops:ca:rw full
 *
 * The secret comes first: it is the only place the private key ever lives (never on disk, never
 * printed), so a run that stops after it can go on from it; an account made first would be useless
 * if the secret then failed. Re-running is safe: an existing secret is reused, never overwritten;
 * an existing account is reused only when it logs in with the secret's key; an existing ACL or
 * grant is fine.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { ClientOptions } from '../client/http';
import { canLogIn, createSecret, createServiceAccount, DcosApiError, grant, readSecret } from './iam';
import { DcosAuthError, parseServiceAccount, type ServiceAccount } from './login';

export interface AccountNames {
  uid: string;
  secretPath: string;
}

/**
 * `dcos-registry` → uid `dcos-registry-principal` (DC/OS's `<service>-principal` convention),
 * secret `dcos-registry-secret` (the package's registry.service-account-secret-path default).
 * A service in a group, `/infra/dcos-registry`, gives `infradcos-registry-…` as its VIP name does.
 */
export function defaultAccountNames(service: string): AccountNames {
  const flat = service.replace(/\//g, '');
  return { uid: `${flat}-principal`, secretPath: `${flat}-secret` };
}

/** What `create-sa-secret --strict` writes as login_endpoint: the IAM as seen from inside the cluster. */
const SECRET_LOGIN_ENDPOINT = 'https://master.mesos/acs/api/v1/auth/login';

/** The one permission the registry needs: its TLS certificate from the DC/OS CA (lib/dcos/ca.ts). */
const CA_PERMISSION = {
  rid: 'dcos:adminrouter:ops:ca:rw',
  action: 'full',
  description: 'Controls access to all endpoints of the Certificate Authority API',
} as const;

const ACCOUNT_DESCRIPTION = 'dcos_registry service account';

/** The secret's text as `dcos security secrets create-sa-secret` stores it, with a new RSA 2048 key. */
function newServiceAccountSecret(uid: string): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  return JSON.stringify({ scheme: 'RS256', uid, private_key: pem, login_endpoint: SECRET_LOGIN_ENDPOINT });
}

function parseExisting(text: string, secretPath: string): ServiceAccount {
  try {
    return parseServiceAccount(text, `the secret ${secretPath}`);
  } catch (error) {
    if (!(error instanceof DcosAuthError)) throw error;
    throw new DcosApiError(
      409,
      `${error.message}; activate does not overwrite an existing secret: remove it (dcos security secrets delete ${secretPath}) or install with --options`,
    );
  }
}

/** The secret (made or reused), the account holding its public key, and the CA permission. Returns who and where. */
export async function provisionServiceAccount(
  cluster: ClientOptions,
  names: AccountNames,
  step: (line: string) => void,
): Promise<AccountNames> {
  const { secretPath } = names;
  let text = await readSecret(cluster, secretPath);
  if (text === undefined) {
    const mine = newServiceAccountSecret(names.uid);
    // 409 when someone made it meanwhile, or when a retried PUT had been stored: what is there counts.
    if ((await createSecret(cluster, secretPath, mine)) === 'exists') text = await readSecret(cluster, secretPath);
    else text = mine;
    if (text === undefined) throw new DcosApiError(404, `the secret ${secretPath} was created but cannot be read back`);
    if (text === mine) step(`Created the secret ${secretPath} holding a new key pair for the service account ${names.uid}`);
    else step(`The secret ${secretPath} already exists: reusing it, not overwriting it`);
  } else {
    step(`The secret ${secretPath} already exists: reusing it, not overwriting it`);
  }
  const account = parseExisting(text, secretPath);
  const uid = account.uid;
  if (uid !== names.uid) step(`The secret ${secretPath} belongs to the service account ${uid}: using that account`);

  const publicKey = createPublicKey(account.privateKey).export({ type: 'spki', format: 'pem' }) as string;
  if ((await createServiceAccount(cluster, uid, publicKey, ACCOUNT_DESCRIPTION)) === 'created') {
    step(`Created the service account ${uid}`);
  } else if (await canLogIn(cluster, account)) {
    step(`The service account ${uid} already exists and holds the key of ${secretPath}: reusing it`);
  } else {
    throw new DcosApiError(
      409,
      `the service account ${uid} already exists with another key than the secret ${secretPath} holds; activate changes neither: ` +
        `remove one of them (dcos security org service-accounts delete ${uid}, or dcos security secrets delete ${secretPath}) and run activate again`,
    );
  }

  const { rid, action, description } = CA_PERMISSION;
  const granted = await grant(cluster, uid, rid, action, description);
  step(granted.grant === 'created' ? `Granted ${uid} ${rid} ${action}` : `${uid} already has ${rid} ${action}`);
  return { uid, secretPath };
}
