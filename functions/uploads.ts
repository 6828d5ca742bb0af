/** Uploads: start, status, complete (bounded steps), abort. */
import { json, noContent, type Request } from '../lib/http/handler';
import { lambdaHandler } from '../lib/http/lambda';
import { checkUploadId } from '../lib/keys';
import { registry } from '../lib/registry';
import { Uploads } from '../lib/uploads/service';

let uploads: Uploads | undefined;
const service = () => (uploads ??= new Uploads(registry()));

export const operations = {
  startUpload: async (req: Request) => json(201, await service().start(req.json, req.origin)),
  getUpload: async (req: Request) => json(200, await service().status(checkUploadId(req.params.id), req.origin)),
  completeUpload: async (req: Request) => {
    const { done, body } = await service().complete(checkUploadId(req.params.id));
    return json(done ? 200 : 202, body);
  },
  abortUpload: async (req: Request) => (await service().abort(checkUploadId(req.params.id)), noContent()),
};

export const handler = lambdaHandler('uploads', operations);
