/** The web catalog: server-rendered pages under /ui/ and their stylesheet and script (lib/ui/). */
import type { Request } from '../lib/http/handler';
import { lambdaHandler } from '../lib/http/lambda';
import { assetAnswer, listAnswer, packageAnswer } from '../lib/ui/service';

export const operations = {
  uiList: (req: Request) => listAnswer(req.registry, req),
  uiPackage: (req: Request) => packageAnswer(req.registry, req.params.name, req),
  uiAsset: async (req: Request) => assetAnswer(req.params.file, req),
};

export const handler = lambdaHandler('ui', operations);
