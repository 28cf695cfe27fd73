// js-yaml arrives through serverless (osls) without types; only `load` is used (tests/unit/runtimes-compose.test.ts).
declare module 'js-yaml' {
  export function load(text: string): unknown;
  const yaml: { load: typeof load };
  export default yaml;
}
