/**
 * Creates the database if needed and applies the schema (idempotent), with the MYSQL_* settings of
 * the environment: for a database the embedded runner does not manage (RDS, the containers' MySQL).
 *   MYSQL_HOST=… MYSQL_USER=… MYSQL_PASSWORD=… MYSQL_DATABASE=… npm run migrate
 */
import { loadConfig, mysqlSettings } from '../src/config.ts';
import { createPool, ensureDatabase, migrate } from '../src/storage/mysql.ts';

const c = loadConfig();
const settings = mysqlSettings(c);
await ensureDatabase(settings);
const pool = createPool(settings);
try {
  await migrate(pool);
  console.log(`schema ready in ${settings.user}@${settings.host}:${settings.port}/${settings.database}`);
} finally {
  await pool.end();
}
