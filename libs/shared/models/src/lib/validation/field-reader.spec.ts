import { InvalidRequestError } from '@singularity/util';
import { FieldReader, childPath, compact, describeValue, invalidField } from './field-reader';

describe('field reader', () => {
  it('describes values for messages', () => {
    expect(describeValue('a/b')).toBe("'a/b'");
    expect(describeValue(-1)).toBe('-1');
    expect(describeValue(null)).toBe('null');
    expect(describeValue({ a: [1] })).toBe('{"a":[1]}');
    expect(describeValue('x'.repeat(200))).toHaveLength(82);
  });

  it('builds paths', () => {
    expect(childPath('', 'id')).toBe('id');
    expect(childPath('deploy', 'id')).toBe('deploy.id');
    expect(childPath('owners', 2)).toBe('owners[2]');
  });

  it('makes errors that name the field first', () => {
    const err = invalidField('resources.cpus', 'must be a number');
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err.field).toBe('resources.cpus');
    expect(err.message).toBe('resources.cpus: must be a number');
    expect(invalidField('', 'must be a JSON object').field).toBe('body');
  });

  it('keeps a JSON key named __proto__ as a plain key', () => {
    const input = JSON.parse('{"env":{"__proto__":"x","A":"1"}}') as unknown;
    const env = FieldReader.of(input).stringMap('env');
    expect(Object.keys(env ?? {})).toEqual(['__proto__', 'A']);
    expect(Object.getPrototypeOf(env)).toBe(Object.prototype);
  });

  it('does not read inherited properties', () => {
    const r = FieldReader.of(Object.create({ id: 'inherited' }) as unknown);
    expect(r.has('id')).toBe(false);
  });

  it('compacts undefined values only', () => {
    expect(compact({ a: undefined, b: 0, c: false, d: '' })).toEqual({ b: 0, c: false, d: '' });
  });
});
