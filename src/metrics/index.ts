export * from './classification.ts';
export * from './regression.ts';
