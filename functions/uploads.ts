/** Uploads: start, status, complete (bounded steps), abort. */
import { json, noContent, type Request } from '../lib/http/handler';
import { withAudit } from '../lib/http/app';
import { lambdaHandler } from '../lib/http/lambda';
import { checkUploadId } from '../lib/keys';
import { registry } from '../lib/registry';
import { Uploads } from '../lib/uploads/service';

let uploads: Uploads | undefined;
const service = () => (uploads ??= new Uploads(registry()));

export const operations = {
  startUpload: async (req: Request) => {
    const view = await service().start(req.json);
    return withAudit(json(201, view), { name: view.name, version: view.version, uploadId: view.id });
  },
  getUpload: async (req: Request) => json(200, await service().status(checkUploadId(req.params.id))),
  completeUpload: async (req: Request) => {
    const { done, body } = await service().complete(checkUploadId(req.params.id));
    // A Processing answer is a poll, not a write yet: not recorded.
    return withAudit(json(done ? 200 : 202, body), body.status === 'Processing' ? null : { name: body.name, version: body.version });
  },
  abortUpload: async (req: Request) => (await service().abort(checkUploadId(req.params.id)), noContent()),
};

export const handler = lambdaHandler('uploads', operations);
