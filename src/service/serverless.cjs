// What serverless.yml takes from the service manifest (`${file(./src/service/serverless.cjs):functions}`, …):
// the serverless `file` source require()s CommonJS, so this loads the TypeScript (Node 22 strips its types).
'use strict';

module.exports = async ({ resolveVariable }) => {
  const { serverlessParts } = await import('./serverless.ts');
  return serverlessParts({ service: await resolveVariable('self:service'), stage: await resolveVariable('sls:stage'), env: process.env });
};
