/** Uploads: start, status, complete (bounded steps), abort. */
import { httpHandler, json, jsonBody, noContent } from '../lib/http/handler';
import { checkUploadId } from '../lib/keys';
import { registry } from '../lib/registry';
import { Uploads } from '../lib/uploads/service';

let uploads: Uploads | undefined;
const service = () => (uploads ??= new Uploads(registry()));

export const handler = httpHandler({
  'POST /uploads': [async (req) => json(201, await service().start(jsonBody(req), req.origin)), { write: true }],
  'GET /uploads/{id}': [async (req) => json(200, await service().status(checkUploadId(req.params.id), req.origin)), { write: true }],
  'POST /uploads/{id}/complete': [
    async (req) => {
      const { done, body } = await service().complete(checkUploadId(req.params.id));
      return json(done ? 200 : 202, body);
    },
    { write: true },
  ],
  'DELETE /uploads/{id}': [async (req) => (await service().abort(checkUploadId(req.params.id)), noContent()), { write: true }],
});
