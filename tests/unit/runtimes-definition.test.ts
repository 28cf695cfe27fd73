import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, test } from 'node:test';
import { repoRoot } from '../../src/config.ts';
import { readDefinitionText, referencedFunctions, substituteFunctions } from '../../src/statemachine/definition.ts';
import { SERVICE, STAGE } from '../../src/statemachine/definition.ts';
import { functionName, serviceDefinition } from '../../localstack/deploy-lib.ts';

const require = createRequire(import.meta.url);
type AslValidator = (definition: unknown, options?: Record<string, boolean>) => { isValid: boolean; errorsText: () => string };
const aslValidator = require('asl-validator') as AslValidator;
const awsForm = require(path.join(repoRoot, 'statemachine', 'definition.cjs')) as { definition: Record<string, unknown> };

const serverlessYml = await readFile(path.join(repoRoot, 'serverless.yml'), 'utf8');
const service = serviceDefinition();
const text = await readDefinitionText();
const arnOf = (key: string) => `arn:aws:lambda:us-east-1:000000000000:function:${functionName(service.service, STAGE, key)}`;

/** Every Task state's Resource in a parsed definition. */
function taskResources(definition: Record<string, unknown>): [string, unknown][] {
  const states = definition.States as Record<string, { Type: string; Resource?: unknown }>;
  return Object.entries(states)
    .filter(([, s]) => s.Type === 'Task')
    .map(([name, s]) => [name, s.Resource]);
}

describe('one state machine definition for three runtimes', () => {
  test('the ASL is valid once its placeholders are Lambda ARNs (asl-validator)', () => {
    const result = aslValidator(substituteFunctions(text, arnOf), { checkArn: true, checkPaths: true });
    assert.equal(result.isValid, true, result.isValid ? '' : result.errorsText());
  });

  // biome-ignore lint/suspicious/noTemplateCurlyInString: the test's name quotes the ASL placeholder
  test('every ${XFunctionArn} names a function of the manifest, and every Task uses one', () => {
    const keys = service.functions.map((f) => f.key);
    const referenced = referencedFunctions(text);
    assert.deepEqual(referenced, ['fetch', 'plan', 'preprocess', 'promote', 'recordFailure', 'select', 'train']);
    for (const key of referenced) assert.ok(keys.includes(key), `${key} is not a function of src/service/manifest.ts`);
    for (const [state, resource] of taskResources(JSON.parse(text) as Record<string, unknown>)) {
      assert.match(String(resource), /^\$\{[A-Z][A-Za-z0-9]*FunctionArn\}$/, `${state} has a hard-coded Resource`);
    }
  });

  test('the AWS form (statemachine/definition.cjs) is the same file with Fn::GetAtt of each function', () => {
    const resources = taskResources(awsForm.definition);
    assert.equal(resources.length, taskResources(JSON.parse(text) as Record<string, unknown>).length);
    for (const [, resource] of resources) {
      const getAtt = (resource as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
      assert.ok(Array.isArray(getAtt) && getAtt[1] === 'Arn', JSON.stringify(resource));
      const key = getAtt[0].replace(/LambdaFunction$/, '');
      assert.ok(
        service.functions.some((f) => f.key === key[0].toLowerCase() + key.slice(1)),
        getAtt[0],
      );
    }
    // Apart from the Resources and the Fn::Sub escaping of literal "${", nothing differs from the ASL file.
    const back = JSON.parse(JSON.stringify(awsForm.definition).replaceAll('${!', '${'), (_k, v: unknown) => {
      const getAtt = (v as { 'Fn::GetAtt'?: [string, string] } | null)?.['Fn::GetAtt'];
      return getAtt ? `\${${getAtt[0].replace(/LambdaFunction$/, '')}FunctionArn}` : v;
    }) as unknown;
    assert.deepEqual(back, JSON.parse(text));
    assert.ok(!JSON.stringify(awsForm.definition).match(/\$\{(?!!)/), 'an unescaped ${ would break Fn::Sub');
  });

  test('all runtimes name the state machine and the functions alike', () => {
    assert.match(serverlessYml, new RegExp(`^service: ${SERVICE}$`, 'm'));
    assert.match(serverlessYml, /name: \$\{self:service\}-\$\{sls:stage\}/);
    assert.equal(functionName(SERVICE, STAGE, 'fetch'), 'mlops-pipeline-dev-fetch');
  });
});
