import { globToRegExp } from './file-glob';

describe('globToRegExp', () => {
  it.each([
    ['service.log*.[gb]z*', 'service.log-20240101123.log.gz', true],
    ['service.log*.[gb]z*', 'service.log-20240101.bz2', true],
    ['service.log*.[gb]z*', 'service.log', false],
    ['service.log*.[gb]z*', 'xservice.log.gz', false],
    ['access.log*', 'access.log', true],
    ['access.log*', 'access.log.1', true],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['[!x]*.txt', 'a.txt', true],
    ['[!x]*.txt', 'x.txt', false],
    ['*.{gz,bz2}', 'f.bz2', true],
    ['*.{gz,bz2}', 'f.zip', false],
    ['a+b(c).log', 'a+b(c).log', true],
    ['\\*', '*', true],
    ['\\*', 'a', false],
  ])('%s matches %s: %s', (glob, name, expected) => {
    expect(globToRegExp(glob).test(name)).toBe(expected);
  });

  it('refuses malformed globs', () => {
    expect(() => globToRegExp('a[b')).toThrow(/unclosed \[/);
    expect(() => globToRegExp('{a,b')).toThrow(/unclosed \{/);
  });
});
