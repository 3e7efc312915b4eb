/*
 * Wire helpers of the AWS query protocols (awsQuery for AutoScaling, ec2Query for EC2): form-encoded
 * request parameters in, XML out. Just enough XML writing for the shapes the stand-in answers with.
 */

/** The parameters of one query-protocol request (form body, or URL query for a GET). */
export class QueryParams {
  private readonly map = new Map<string, string>();

  constructor(body: string) {
    for (const [k, v] of new URLSearchParams(body)) this.map.set(k, v);
  }

  get(name: string): string | undefined {
    return this.map.get(name);
  }

  has(name: string): boolean {
    return this.map.has(name);
  }

  /**
   * Values of a list: `prefix.1`, `prefix.2`, ... in index order (awsQuery: `Names.member.N`,
   * ec2Query: `InstanceId.N`). An empty list serialized as `prefix=` gives [].
   */
  list(prefix: string): string[] {
    const out: Array<[number, string]> = [];
    const re = new RegExp(`^${escapeRe(prefix)}\\.(\\d+)$`);
    for (const [k, v] of this.map) {
      const m = re.exec(k);
      if (m) out.push([Number(m[1]), v]);
    }
    return out.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
  }

  /** Indices N that occur in `prefix.N.<anything>` (ec2Query structure lists: `Filter.N.Name`). */
  indices(prefix: string): number[] {
    const re = new RegExp(`^${escapeRe(prefix)}\\.(\\d+)\\.`);
    const set = new Set<number>();
    for (const k of this.map.keys()) {
      const m = re.exec(k);
      if (m) set.add(Number(m[1]));
    }
    return [...set].sort((a, b) => a - b);
  }

  int(name: string): number | undefined {
    const v = this.map.get(name);
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    return Number.isInteger(n) ? n : NaN;
  }

  bool(name: string): boolean | undefined {
    const v = this.map.get(name);
    if (v === undefined) return undefined;
    return v.toLowerCase() === 'true';
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function escapeXml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!,
  );
}

/** A value that serializes to XML: lists are wrapped in `<member>` (awsQuery) or `<item>` (ec2Query). */
export type XmlValue =
  string | number | boolean | Date | undefined | XmlValue[] | { [key: string]: XmlValue };

/** `<name>...</name>`; undefined values are left out, arrays become `<name><item>..</item>...</name>`. */
export function xml(name: string, value: XmlValue, itemTag: string): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) {
    return `<${name}>${value.map((v) => xml(itemTag, v, itemTag)).join('')}</${name}>`;
  }
  if (value instanceof Date) return `<${name}>${value.toISOString()}</${name}>`;
  if (typeof value === 'object') {
    const inner = Object.entries(value)
      .map(([k, v]) => xml(k, v, itemTag))
      .join('');
    return `<${name}>${inner}</${name}>`;
  }
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** NextToken of the stand-in's paginated listings: the offset of the next page, opaque to clients. */
export function encodeOffsetToken(offset: number): string {
  return Buffer.from(`offset:${offset}`).toString('base64url');
}

/** The offset a NextToken stands for; undefined when the token is not one of ours. */
export function decodeOffsetToken(token: string): number | undefined {
  const offset = Number(
    Buffer.from(token, 'base64url')
      .toString('utf8')
      .replace(/^offset:/, ''),
  );
  return Number.isInteger(offset) && offset >= 0 ? offset : undefined;
}
