/** Describe, list and remove package versions; read the audit log (writers only). */
import { auditQuery, readAudit } from '../lib/audit';
import { isWriter } from '../lib/http/auth';
import { json } from '../lib/http/handler';
import { lambdaHandler } from '../lib/http/lambda';
import type { Request } from '../lib/http/handler';
import { describe, list, remove } from '../lib/packages';

export const operations = {
  listPackages: async (req: Request) => json(200, await list(req.registry)),
  describePackage: async (req: Request) => {
    // An upload's failure reason is shown to writers only.
    const showReason = await isWriter(req.registry.config, req.headers);
    return json(200, await describe(req.registry, req.params.name, req.params.version, { showReason }));
  },
  removePackage: async (req: Request) => json(200, await remove(req.registry, req.params.name, req.params.version)),
  readAudit: async (req: Request) => json(200, await readAudit(req.registry.storage, auditQuery(req.query))),
};

export const handler = lambdaHandler('packages', operations);
