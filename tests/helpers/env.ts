import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { repoRoot } from '../../src/config.ts';
import type { MysqlSettings } from '../../src/storage/mysql.ts';

/** The real Covertype file, from the shared data folder beside the repo (or COVERTYPE_PATH). */
export const covertypePath = process.env.COVERTYPE_PATH ?? path.resolve(repoRoot, '../shared/data/covertype/covertype.csv.gz');

/** A database of its own for each test file, on the MySQL the environment points at. */
export function testMysql(label: string): MysqlSettings {
  return {
    host: process.env.MYSQL_HOST ?? '127.0.0.1',
    port: Number(process.env.MYSQL_PORT ?? 3306),
    user: process.env.MYSQL_USER ?? 'root',
    password: process.env.MYSQL_PASSWORD ?? '',
    database: `mlops_test_${label}_${randomBytes(4).toString('hex')}`,
  };
}

export const testBucket = (label: string) => `mlops-test-${label}-${randomBytes(4).toString('hex')}`;
