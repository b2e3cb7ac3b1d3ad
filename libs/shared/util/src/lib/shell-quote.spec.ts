import { execFileSync } from 'node:child_process';
import { shellQuote, shellQuoteAll } from './shell-quote';

describe('shellQuote', () => {
  const nasty = ['plain', '', 'two words', "it's", 'a"b', '$HOME', '`id`', 'x!y', 'line1\nline2', "'; rm -rf / #", '\\'];

  it.each(nasty)('bash receives %j unchanged', (word) => {
    const out = execFileSync('bash', ['-c', `printf '%s' ${shellQuote(word)}`]).toString();
    expect(out).toBe(word);
  });

  it('keeps each word one argument', () => {
    const out = execFileSync('bash', ['-c', `printf '<%s>' ${shellQuoteAll(['a b', 'c'])}`]).toString();
    expect(out).toBe('<a b><c>');
  });
});
