/** Uploads: start, status, complete (bounded steps), abort. */
import { json, noContent, type Request } from '../lib/http/handler';
import { withAudit } from '../lib/http/app';
import { lambdaHandler } from '../lib/http/lambda';
import { checkUploadId } from '../lib/keys';
import type { Registry } from '../lib/registry';
import { Uploads } from '../lib/uploads/service';

/** One upload service per registry: it remembers the sessions it read or wrote (lib/uploads/session.ts). */
const services = new WeakMap<Registry, Uploads>();
function service(req: Request): Uploads {
  let uploads = services.get(req.registry);
  if (!uploads) services.set(req.registry, (uploads = new Uploads(req.registry)));
  return uploads;
}

export const operations = {
  startUpload: async (req: Request) => {
    const view = await service(req).start(req.json);
    return withAudit(json(201, view), { name: view.name, version: view.version, uploadId: view.id });
  },
  getUpload: async (req: Request) => json(200, await service(req).status(checkUploadId(req.params.id))),
  completeUpload: async (req: Request) => {
    const { done, body } = await service(req).complete(checkUploadId(req.params.id));
    // A Processing answer is a poll, not a write yet: not recorded.
    return withAudit(json(done ? 200 : 202, body), body.status === 'Processing' ? null : { name: body.name, version: body.version });
  },
  abortUpload: async (req: Request) => (await service(req).abort(checkUploadId(req.params.id)), noContent()),
};

export const handler = lambdaHandler('uploads', operations);
