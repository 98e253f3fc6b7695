import type { Database, SqlValue } from './sqlLoader';

/**
 * Runs a read query and returns plain rows; the statement is always freed. Column names are read
 * once per statement: sql.js's getAsObject() asks for them on every row, which tripled the cost
 * of a page.
 */
export function selectRows(db: Database, sql: string, params: SqlValue[]): Record<string, SqlValue>[] {
  const statement = db.prepare(sql);
  try {
    statement.bind(params);
    const columns = statement.getColumnNames();
    const rows: Record<string, SqlValue>[] = [];
    while (statement.step()) {
      const values = statement.get();
      const row: Record<string, SqlValue> = {};
      for (let i = 0; i < columns.length; i++) row[columns[i] as string] = values[i] ?? null;
      rows.push(row);
    }
    return rows;
  } finally {
    statement.free();
  }
}
