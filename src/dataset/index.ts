export * from './spec.ts';
export * from './csv.ts';
export * from './layouts.ts';
export * from './validate.ts';
export * from './encode.ts';
export * from './split.ts';
