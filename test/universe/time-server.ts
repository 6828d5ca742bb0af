/** The package metadata the Universe format tests start from (written for this project). */
export const timeServer = {
  packagingVersion: '4.0',
  name: 'time-server',
  version: '1.0.0',
  maintainer: 'ops@example.com',
  description: 'Tells the time',
  tags: ['http'],
};
