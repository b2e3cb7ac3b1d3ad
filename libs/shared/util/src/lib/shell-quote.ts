/**
 * Quotes one word for POSIX sh/bash so that it reaches the program unchanged,
 * whatever it holds (quotes, `$`, backticks, spaces, newlines, `!`).
 */
export function shellQuote(word: string): string {
  if (word === '') return "''";
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function shellQuoteAll(words: readonly string[]): string {
  return words.map(shellQuote).join(' ');
}
