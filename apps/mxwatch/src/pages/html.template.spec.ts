import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { domainPath, escapeHtml, Html, html, join, queryString, safeUrl } from './html.template.js';

describe(html.name, () => {
  it('should escape a banner carrying a script element', () => {
    const banner = '220 mx.example.com ESMTP <script>alert(document.cookie)</script>';
    expect(html`<pre>${banner}</pre>`.value).toBe('<pre>220 mx.example.com ESMTP &lt;script&gt;alert(document.cookie)&lt;/script&gt;</pre>');
  });

  it('should keep a hostile value inside its double-quoted attribute', () => {
    const subject = 'CN=x" onmouseover="alert(1)';
    expect(html`<td title="${subject}">`.value).toBe('<td title="CN&#61;x&quot; onmouseover&#61;&quot;alert(1)">');
  });

  it('should escape single quotes, backticks and ampersands', () => {
    expect(html`<span title='${"a' b"}'>${'`${x}` & co'}</span>`.value).toBe("<span title='a&#39; b'>&#96;${x}&#96; &amp; co</span>");
  });

  it('should not double-escape Html built by the helper, and join arrays', () => {
    const items = ['<b>', 'x&y'].map((s) => html`<li>${s}</li>`);
    expect(html`<ul>${items}</ul>`.value).toBe('<ul><li>&lt;b&gt;</li><li>x&amp;y</li></ul>');
  });

  it('should render null, undefined and false as nothing and numbers as text', () => {
    expect(html`[${null}${undefined}${false}${0}${12.5}]`.value).toBe('[012.5]');
  });

  it('should replace control characters that could confuse a parser', () => {
    expect(html`${'a\u0000b\u001bc\td\ne'}`.value).toBe('a\ufffdb\ufffdc\td\ne');
  });

  it('should never let an interpolated string open a tag or leave an attribute, whatever it holds', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const out = html`<p title="${s}">${s}</p>`.value;
        const m = /^<p title="([^"]*)">(.*)<\/p>$/s.exec(out);
        expect(m).not.toBeNull();
        expect(m![1]).not.toMatch(/[<>"'`]/);
        expect(m![2]).not.toMatch(/[<>"'`]/);
      }),
    );
  });

  it('should refuse a plain object posing as Html', () => {
    const fake = { value: '<script>x</script>' } as unknown as Html;
    expect(html`${fake as never}`.value).toBe('[object Object]');
  });
});

describe(escapeHtml.name, () => {
  it('should escape every character that matters in content and quoted attributes', () => {
    expect(escapeHtml(`<>&"'\`=`)).toBe('&lt;&gt;&amp;&quot;&#39;&#96;&#61;');
  });
});

describe(join.name, () => {
  it('should escape a text separator', () => {
    expect(join(['a', 'b'], ' <|> ').value).toBe('a &lt;|&gt; b');
  });
});

describe(safeUrl.name, () => {
  it('should keep same-origin paths and http(s) URLs', () => {
    expect(safeUrl('/domains/a.test?x=1')).toBe('/domains/a.test?x=1');
    expect(safeUrl('https://mx.example/')).toBe('https://mx.example/');
  });

  it('should turn javascript:, data: and protocol-relative URLs into #', () => {
    for (const u of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,<script>', '//evil.example/', '/\\evil.example']) expect(safeUrl(u), u).toBe('#');
  });
});

describe(domainPath.name, () => {
  it('should encode the name as one path segment', () => {
    expect(domainPath('a.test')).toBe('/domains/a.test');
    expect(domainPath('../x?y')).toBe('/domains/..%2Fx%3Fy');
  });
});

describe(queryString.name, () => {
  it('should drop empty values and encode the rest', () => {
    expect(queryString({ q: 'a b&c', page: 2, label: '', severity: undefined })).toBe('?q=a+b%26c&page=2');
    expect(queryString({})).toBe('');
  });
});
