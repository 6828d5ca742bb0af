// Values serverless.yml derives from the environment (only for IAM scoping; the
// handlers parse their configuration themselves in lib/config.ts).
module.exports = () => {
  const storage = process.env.REGISTRY_STORAGE || 'file:.registry';
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(storage);
  const bucket = m ? m[1] : 'no-s3-bucket-configured';
  const prefix = m ? m[2].replace(/^\/+|\/+$/g, '') : 'none';
  return { bucket, objects: prefix ? `${prefix}/*` : '*', listPrefix: prefix ? `${prefix}/*` : '*' };
};
