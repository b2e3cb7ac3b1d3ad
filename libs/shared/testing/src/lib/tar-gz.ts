import { gzipSync } from 'node:zlib';
import { Header } from 'tar';

/** One member of a test tarball. */
export interface TarMember {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink';
  body?: string;
  linkpath?: string;
  mode?: number;
}

/**
 * A gzip'd tar built header by header, so that it can also hold what no
 * well-behaved tar writes (absolute paths, `..`, links out). A mapping of
 * path → content makes plain executable files (mode 0755).
 */
export function tarGz(members: TarMember[] | Record<string, string>): Buffer {
  const list: TarMember[] = Array.isArray(members)
    ? members
    : Object.entries(members).map(([path, body]): TarMember => ({ path, body, mode: 0o755 }));
  const blocks: Buffer[] = [];
  for (const member of list) {
    const type = member.type ?? 'File';
    const body = Buffer.from(member.body ?? '');
    const size = type === 'File' ? body.length : 0;
    const block = Buffer.alloc(512);
    new Header({ path: member.path, type, size, linkpath: member.linkpath, mode: member.mode ?? 0o644, uid: 0, gid: 0, mtime: new Date() }).encode(block, 0);
    blocks.push(block);
    if (size > 0) blocks.push(body, Buffer.alloc((512 - (size % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}
