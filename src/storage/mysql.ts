import mysql from 'mysql2/promise';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { StorageUnavailable } from '../errors.ts';
import { schemaStatements } from './schema.ts';

export type { Pool, PoolConnection, ResultSetHeader, RowDataPacket };

export interface MysqlSettings {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** Connection errors worth a retry (as opposed to SQL errors, which a retry would repeat). */
const transientCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'ER_CON_COUNT_ERROR',
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
]);

/** The MySQL error code of an error, or of the error a StorageUnavailable wraps. */
function errorCode(error: unknown): string | undefined {
  const e = error as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = e?.code ?? (e instanceof StorageUnavailable ? e.cause?.code : undefined);
  return typeof code === 'string' ? code : undefined;
}

export function isTransientDbError(error: unknown): boolean {
  const code = errorCode(error);
  return code !== undefined && transientCodes.has(code);
}

/** Rethrows connection-level failures as StorageUnavailable so the state machine retries them. */
export function asStorageError(error: unknown): unknown {
  if (isTransientDbError(error) && !(error instanceof StorageUnavailable)) {
    return new StorageUnavailable(`MySQL unavailable: ${(error as Error).message}`, { cause: error });
  }
  return error;
}

export function createPool(settings: MysqlSettings): Pool {
  return mysql.createPool({
    ...settings,
    connectionLimit: 4,
    waitForConnections: true,
    supportBigNumbers: true,
    decimalNumbers: true,
    timezone: 'Z',
    connectTimeout: 5000,
  });
}

/** A query whose connection failures come out as StorageUnavailable (retryable), SQL errors as they are. */
export async function queryRows<T extends RowDataPacket>(db: Pool | PoolConnection, sql: string, params: unknown[]): Promise<T[]> {
  try {
    const [rows] = await db.query<T[]>(sql, params);
    return rows;
  } catch (error) {
    throw asStorageError(error);
  }
}

/** A statement (INSERT, UPDATE, DDL), with the same error mapping as `queryRows`. */
export async function execute(db: Pool | PoolConnection, sql: string, params: unknown[]): Promise<ResultSetHeader> {
  try {
    const [result] = await db.query<ResultSetHeader>(sql, params);
    return result;
  } catch (error) {
    throw asStorageError(error);
  }
}

/** Creates the database if needed. Its name is validated by the config schema. */
export async function ensureDatabase(settings: MysqlSettings): Promise<void> {
  const connection = await mysql.createConnection({ ...settings, database: undefined, connectTimeout: 5000 });
  try {
    await connection.query(`CREATE DATABASE IF NOT EXISTS \`${settings.database}\``);
  } finally {
    await connection.end();
  }
}

export async function migrate(pool: Pool): Promise<void> {
  for (const statement of schemaStatements) await execute(pool, statement, []);
}

export async function dropDatabase(settings: MysqlSettings): Promise<void> {
  const connection = await mysql.createConnection({ ...settings, database: undefined, connectTimeout: 5000 });
  try {
    await connection.query(`DROP DATABASE IF EXISTS \`${settings.database}\``);
  } finally {
    await connection.end();
  }
}

/**
 * Runs `work` in one transaction: committed when it returns, rolled back when it throws. A deadlock
 * rolls back the whole transaction, so `work` is simply run again (it must only touch the database).
 */
export async function inTransaction<T>(pool: Pool, work: (connection: PoolConnection) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let connection: PoolConnection;
    try {
      connection = await pool.getConnection();
    } catch (error) {
      throw asStorageError(error);
    }
    try {
      await connection.beginTransaction();
      const result = await work(connection);
      await connection.commit();
      return result;
    } catch (error) {
      await connection.rollback().catch(() => undefined);
      // The queries inside map a deadlock to StorageUnavailable; the code is still on its cause.
      if (errorCode(error) === 'ER_LOCK_DEADLOCK' && attempt < 5) continue;
      throw asStorageError(error);
    } finally {
      connection.release();
    }
  }
}
