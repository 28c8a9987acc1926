// Runs one SQL query over make local's history with DuckDB, as Athena runs
// it over a stage's: the table `samples` (api/history's columns and
// partition keys) over the Parquet files below ROOT, one read-only
// statement, and no more bytes read than LIMIT. Called by localathena.go;
// prints one JSON object: {columns, rows, bytesScanned} or {error, refused}.
//
//   node query.mjs ROOT LIMIT < query.sql
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [root, limitArg] = process.argv.slice(2);
const limit = Number(limitArg);
const sql = readFileSync(0, 'utf8');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const refuse = (message) => { out({ error: message, refused: true }); process.exit(0); };

const quote = (s) => "'" + s.replaceAll("'", "''") + "'";
const dir = resolve(root);
const tmp = mkdtempSync(join(tmpdir(), 'fleetapi-history-'));
try {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const files = join(dir, 'samples', 'day=*', 'hour=*', '*.parquet');
  const hasFiles = existsSync(join(dir, 'samples')) && readdirSync(join(dir, 'samples')).length > 0;
  // The columns of api/history, in its order; the partitions typed as the
  // Glue table's (hive_types), not guessed from their values.
  const columns = 'vid, signal, ts, value, eid, received_at, day, hour';
  await c.run(hasFiles
    ? `CREATE VIEW samples AS SELECT ${columns} FROM read_parquet(${quote(files)}, hive_partitioning = true, hive_types = {'day': VARCHAR, 'hour': INTEGER})`
    : `CREATE TABLE samples (vid VARCHAR, signal VARCHAR, ts TIMESTAMP, value DOUBLE, eid VARCHAR, received_at TIMESTAMP, day VARCHAR, hour INTEGER)`);

  // One SELECT statement, nothing else: DuckDB serializes SELECTs alone.
  const parsed = JSON.parse((await c.runAndReadAll(`SELECT json_serialize_sql(${quote(sql)}) AS j`)).getRowObjects()[0].j);
  if (parsed.error) refuse(`only a single read-only SELECT is allowed: ${parsed.error_message}`);
  if (parsed.statements.length !== 1) refuse(`only a single read-only SELECT is allowed: got ${parsed.statements.length} statements`);

  // The query reads the history's files and nothing else, and cannot
  // change that.
  const profile = join(tmp, 'profile.json');
  await c.run(`SET allowed_directories = [${quote(dir)}, ${quote(tmp)}]`);
  await c.run(`SET enable_external_access = false`);
  await c.run(`PRAGMA enable_profiling = 'json'`);
  await c.run(`PRAGMA profiling_output = ${quote(profile)}`);
  await c.run(`SET lock_configuration = true`);

  let reader;
  try {
    reader = await c.runAndReadAll(sql);
  } catch (e) {
    out({ error: String(e.message ?? e), refused: false });
    process.exit(0);
  }
  // total_bytes_read: what the query read of the files (DuckDB's own
  // profile), the nearest to Athena's bytes scanned.
  const prof = JSON.parse(readFileSync(profile, 'utf8'));
  const bytesScanned = Number(prof.total_bytes_read ?? prof.io?.total_bytes_read ?? -1);
  if (bytesScanned < 0) throw new Error('DuckDB reported no bytes read');
  if (bytesScanned > limit) {
    refuse(`the query read ${bytesScanned} bytes, over the limit of ${limit} (the workgroup's bytes scanned cutoff): filter on day and hour (the partitions), a vehicle or a signal`);
  }
  out({ columns: reader.columnNames(), rows: reader.getRowsJson(), bytesScanned });
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
