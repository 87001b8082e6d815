import { describe, expect, it } from 'vitest';
import type { DnsAnswer, DnsErrorKind } from '../probe.types.js';
import { classifyDnsblAnswer } from './dnsbl-classifier.js';
import { resolveZoneConfig, zoneConfigFor } from './dnsbl-zones.js';

const zen = zoneConfigFor('zen.spamhaus.org');
const dbl = zoneConfigFor('dbl.spamhaus.org');
const uribl = zoneConfigFor('multi.uribl.com');
const surbl = zoneConfigFor('multi.surbl.org');
const spamcop = zoneConfigFor('bl.spamcop.net');
const [custom] = resolveZoneConfig(['rbl.example.test:ip']);

const name = '2.0.2.192.zen.spamhaus.org';
const answer = (...records: string[]): DnsAnswer<'A'> => ({ ok: true, type: 'A', name, records, ttl: 60 });
const failure = (error: DnsErrorKind): DnsAnswer<'A'> => ({ ok: false, type: 'A', name, error, cause: `cause of ${error}` });

describe(classifyDnsblAnswer.name, () => {
  it('should read NXDOMAIN as clean', () => {
    expect(classifyDnsblAnswer(zen, failure('nxdomain'))).toEqual({ state: 'clean' });
  });

  it('should read a name without A record as clean, with a note', () => {
    expect(classifyDnsblAnswer(zen, failure('nodata'))).toEqual({ state: 'clean', note: `${name} exists but has no A record` });
  });

  it.each([
    ['127.0.0.2', 'SBL'],
    ['127.0.0.3', 'CSS'],
    ['127.0.0.4', 'XBL'],
    ['127.0.0.7', 'XBL'],
    ['127.0.0.9', 'DROP'],
    ['127.0.0.10', 'PBL'],
    ['127.0.0.11', 'PBL'],
  ])('should decode zen %s as a %s listing', (code, meaning) => {
    expect(classifyDnsblAnswer(zen, answer(code))).toEqual({ state: 'listed', codes: [{ code, meaning: expect.stringContaining(meaning) }] });
  });

  it('should keep every code of a multi-code listing', () => {
    const r = classifyDnsblAnswer(zen, answer('127.0.0.4', '127.0.0.10'));
    expect(r).toMatchObject({ state: 'listed', codes: [{ code: '127.0.0.4' }, { code: '127.0.0.10' }] });
  });

  it.each([
    ['127.0.1.2', 'spam domain'],
    ['127.0.1.4', 'phishing domain'],
    ['127.0.1.5', 'malware domain'],
    ['127.0.1.6', 'botnet command and control domain'],
    ['127.0.1.102', 'abused legitimate domain (spam)'],
    ['127.0.1.106', 'abused legitimate domain (botnet command and control)'],
  ])('should decode dbl %s as %s', (code, meaning) => {
    expect(classifyDnsblAnswer(dbl, answer(code))).toEqual({ state: 'listed', codes: [{ code, meaning }] });
  });

  it.each([
    [zen, '127.255.255.252', 'zone_typo'],
    [zen, '127.255.255.254', 'query_refused_by_list'],
    [zen, '127.255.255.255', 'rate_limited'],
    [dbl, '127.255.255.254', 'query_refused_by_list'],
    [dbl, '127.0.1.255', 'wrong_query_kind'],
    [uribl, '127.0.0.1', 'query_refused_by_list'],
    [custom, '127.255.255.254', 'query_refused_by_list'],
  ])('should read %s.zone answer %s as error %s', (zone, code, reason) => {
    expect(classifyDnsblAnswer(zone, answer(code))).toMatchObject({ state: 'error', reason, answer: code });
  });

  it('should decode bitmask lists bit by bit', () => {
    expect(classifyDnsblAnswer(uribl, answer('127.0.0.2'))).toEqual({ state: 'listed', codes: [{ code: '127.0.0.2', meaning: 'URIBL black (spam domain)' }] });
    expect(classifyDnsblAnswer(uribl, answer('127.0.0.14'))).toMatchObject({ state: 'listed', codes: [{ code: '127.0.0.14', meaning: expect.stringMatching(/black.*grey.*red/) }] });
    expect(classifyDnsblAnswer(surbl, answer('127.0.0.80'))).toEqual({
      state: 'listed', codes: [{ code: '127.0.0.80', meaning: 'SURBL MW (malware site); SURBL ABUSE (spam and abuse site)' }],
    });
  });

  it('should read unknown 127/8 codes as unknown_answer', () => {
    expect(classifyDnsblAnswer(zen, answer('127.0.0.8'))).toMatchObject({ state: 'error', reason: 'unknown_answer', answer: '127.0.0.8' });
    expect(classifyDnsblAnswer(spamcop, answer('127.0.0.3'))).toMatchObject({ state: 'error', reason: 'unknown_answer' });
    expect(classifyDnsblAnswer(custom, answer('127.0.0.1'))).toMatchObject({ state: 'error', reason: 'unknown_answer' });
  });

  it('should keep a listing that comes with an unknown extra code, marking the unknown one', () => {
    expect(classifyDnsblAnswer(zen, answer('127.0.0.2', '127.0.0.99'))).toEqual({
      state: 'listed',
      codes: [{ code: '127.0.0.2', meaning: expect.stringContaining('SBL') }, { code: '127.0.0.99', meaning: 'unrecognised return code' }],
    });
  });

  it('should read any 127.0.0.2-254 answer of a custom zone as listed', () => {
    expect(classifyDnsblAnswer(custom, answer('127.0.0.42'))).toEqual({ state: 'listed', codes: [{ code: '127.0.0.42', meaning: 'listed' }] });
  });

  it('should read answers outside 127.0.0.0/8 as an error, never a listing', () => {
    expect(classifyDnsblAnswer(zen, answer('198.51.100.7'))).toMatchObject({ state: 'error', reason: 'answer_outside_loopback', answer: '198.51.100.7' });
    expect(classifyDnsblAnswer(zen, answer('127.0.0.2', '198.51.100.7'))).toMatchObject({ state: 'error', reason: 'answer_outside_loopback' });
  });

  it('should read a listing mixed with an error code as an error', () => {
    expect(classifyDnsblAnswer(zen, answer('127.0.0.2', '127.255.255.254'))).toMatchObject({ state: 'error', reason: 'mixed_answer' });
  });

  it.each(['refused', 'servfail', 'timeout', 'transport', 'badresp'] as const)('should read a DNS %s as an error of that kind', (kind) => {
    expect(classifyDnsblAnswer(zen, failure(kind))).toEqual({ state: 'error', reason: kind, detail: `cause of ${kind}` });
  });
});
