/**
 * File-name globs as the executor writes them (`service.log*.[gb]z*`,
 * `<name>*`): the syntax of Java's `PathMatcher` "glob:" that the original
 * used. `*` any run of characters, `?` one character, `[abc]`/`[a-z]`/`[!x]`
 * one character of (or not of) a set, `{a,b}` alternatives, `\` escapes.
 * Matched against a file's name only (spec slave §2), so `/` never appears.
 */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  let inGroup = false;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    switch (c) {
      case '\\':
        i++;
        if (i >= glob.length) throw new Error(`glob ${JSON.stringify(glob)} ends with an escape`);
        out += escapeChar(glob[i]);
        break;
      case '*':
        out += '[^/]*';
        break;
      case '?':
        out += '[^/]';
        break;
      case '[': {
        const end = glob.indexOf(']', i + 2);
        if (end < 0) throw new Error(`glob ${JSON.stringify(glob)} has an unclosed [`);
        let body = glob.slice(i + 1, end);
        const negate = body.startsWith('!');
        if (negate) body = body.slice(1);
        out += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
        i = end;
        break;
      }
      case '{':
        if (inGroup) throw new Error(`glob ${JSON.stringify(glob)} nests {}`);
        inGroup = true;
        out += '(?:';
        break;
      case '}':
        if (!inGroup) {
          out += '\\}';
          break;
        }
        inGroup = false;
        out += ')';
        break;
      case ',':
        out += inGroup ? '|' : ',';
        break;
      default:
        out += escapeChar(c);
    }
  }
  if (inGroup) throw new Error(`glob ${JSON.stringify(glob)} has an unclosed {`);
  return new RegExp(`^${out}$`, 's');
}

function escapeChar(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}
