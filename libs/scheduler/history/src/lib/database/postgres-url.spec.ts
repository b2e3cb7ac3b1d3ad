import { describePostgresUrl, parsePostgresUrl, quoteIdentifier, redactPostgresUrl, withDatabase } from './postgres-url';

describe('postgres URLs', () => {
  it('parses host, port, database and user, with defaults', () => {
    expect(parsePostgresUrl('postgres://u:p@db.example.com:6543/hist')).toEqual({ host: 'db.example.com', port: 6543, database: 'hist', user: 'u' });
    expect(parsePostgresUrl('postgresql://db/x%20y')).toEqual({ host: 'db', port: 5432, database: 'x y', user: undefined });
    expect(parsePostgresUrl('postgres://alice@db')).toMatchObject({ database: 'alice' });
  });

  it('redacts the password and query parameters for logs', () => {
    expect(redactPostgresUrl('postgres://u:secret@db:5432/h?password=also')).toBe('postgres://u@db:5432/h');
    expect(describePostgresUrl('postgres://u:secret@db:5432/h')).toBe('db:5432/h');
    expect(redactPostgresUrl('::')).toBe('(unparseable database url)');
  });

  it('swaps the database, and quotes identifiers', () => {
    expect(withDatabase('postgres://u:p@db:1/a?sslmode=require', 'b')).toBe('postgres://u:p@db:1/b?sslmode=require');
    expect(quoteIdentifier('we"ird')).toBe('"we""ird"');
  });
});
