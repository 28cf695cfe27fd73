// The AWS form of statemachine/pipeline.asl.json for serverless-step-functions, loaded by serverless.yml as
// `${file(./statemachine/definition.cjs):definition}`. CommonJS because the serverless `file` source require()s it.
// Each `"${XFunctionArn}"` Resource becomes `{ "Fn::GetAtt": ["XLambdaFunction", "Arn"] }`, so the deployed state
// machine is the very same file the embedded runtime and the LocalStack deploy run (no copy to drift).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const DEFINITION_PATH = path.join(__dirname, 'pipeline.asl.json');
// Same convention as src/statemachine/definition.ts: `${FetchFunctionArn}` names the serverless.yml function `fetch`.
const WHOLE_PLACEHOLDER = /^\$\{([A-Z][A-Za-z0-9]*)FunctionArn\}$/;
const ANY_PLACEHOLDER = /\$\{[A-Z][A-Za-z0-9]*FunctionArn\}/;

/** Serverless names function `recordFailure` `RecordFailureLambdaFunction` in CloudFormation. */
const logicalIdOf = (placeholderName) => `${placeholderName}LambdaFunction`;

function toCloudFormation(value, where) {
  if (typeof value === 'string') {
    const whole = WHOLE_PLACEHOLDER.exec(value);
    if (whole) return { 'Fn::GetAtt': [logicalIdOf(whole[1]), 'Arn'] };
    // A placeholder inside a longer string would need Fn::Sub; nothing uses that, so fail loudly rather than deploy it raw.
    if (ANY_PLACEHOLDER.test(value)) throw new Error(`${DEFINITION_PATH}: ${where} embeds a function placeholder in a longer string`);
    // serverless-step-functions wraps the definition in Fn::Sub (it holds GetAtt references), where a literal
    // `${` must be written `${!` (the Comment mentions `${...FunctionArn}`; unescaped, CloudFormation rejects it).
    return value.replaceAll('${', '${!');
  }
  if (Array.isArray(value)) return value.map((item, i) => toCloudFormation(item, `${where}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toCloudFormation(v, `${where}.${k}`)]));
  }
  return value;
}

const definition = toCloudFormation(JSON.parse(fs.readFileSync(DEFINITION_PATH, 'utf8')), '$');

module.exports = { definition, logicalIdOf, toCloudFormation };
