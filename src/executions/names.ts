import { randomBytes } from 'node:crypto';

/** A Step Functions-like execution name, unique and sortable by time: `run-20250101120000-a1b2c3`. */
export const newExecutionName = (): string =>
  `run-${new Date()
    .toISOString()
    .replace(/[-:.TZ]/g, '')
    .slice(0, 14)}-${randomBytes(3).toString('hex')}`;
