import packet from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { applyQuestionFlags, encodeQuery, interpretMessage, mismatchOf, type DnsQuestion } from './dns-message.js';

const Q: DnsQuestion = { name: 'www.example.test', type: 'A', dnssec: false, checkingDisabled: false };
const OPTS = { defaultNegativeTtl: 60, maxTtl: 86_400 };

function response(p: Partial<packet.Packet> & { rcode?: number }): packet.DecodedPacket {
  const { rcode = 0, ...rest } = p;
  return packet.decode(
    packet.encode({
      type: 'response',
      id: 7,
      flags: packet.RECURSION_AVAILABLE | rcode,
      questions: [{ name: 'www.example.test', type: 'A', class: 'IN' }],
      ...rest,
    }),
  );
}

describe('dns-message', () => {
  describe(encodeQuery.name, () => {
    it('should carry EDNS0 with a 1232-byte buffer, DO only when asked, and CD when asked', () => {
      const plain = packet.decode(encodeQuery(Q, 42));
      const opt = plain.additionals!.find((a) => a.type === 'OPT') as packet.OptAnswer;
      expect(plain).toMatchObject({ id: 42, flag_rd: true, flag_cd: false });
      expect(opt).toMatchObject({ udpPayloadSize: 1232, flag_do: false });
      const secure = packet.decode(encodeQuery({ ...Q, dnssec: true, checkingDisabled: true }, 1));
      expect(secure.flag_cd).toBe(true);
      expect((secure.additionals![0] as packet.OptAnswer).flag_do).toBe(true);
    });
  });

  describe(applyQuestionFlags.name, () => {
    it('should add DO and CD to a foreign query and keep its id, question and padding', () => {
      const foreign = packet.encode({
        type: 'query',
        id: 0,
        flags: packet.RECURSION_DESIRED,
        questions: [{ name: 'www.example.test', type: 'A', class: 'IN' }],
        additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: 0, options: [{ code: 'PADDING', length: 20 }] } as unknown as packet.Answer],
      });
      const rewritten = packet.decode(applyQuestionFlags(foreign, { ...Q, dnssec: true, checkingDisabled: true }));
      const opt = rewritten.additionals!.find((a) => a.type === 'OPT') as packet.OptAnswer;
      expect(rewritten).toMatchObject({ id: 0, flag_rd: true, flag_cd: true, questions: [{ name: 'www.example.test', type: 'A' }] });
      expect(opt).toMatchObject({ flag_do: true, udpPayloadSize: 4096 });
      expect(opt.options).toHaveLength(1);
      const cleared = packet.decode(applyQuestionFlags(applyQuestionFlags(foreign, { ...Q, dnssec: true, checkingDisabled: true }), Q));
      expect(cleared.flag_cd).toBe(false);
      expect((cleared.additionals![0] as packet.OptAnswer).flag_do).toBe(false);
    });
  });

  describe(mismatchOf.name, () => {
    it('should accept the answer to the question, the name compared without case', () => {
      const r = packet.decode(packet.encode({ type: 'response', id: 7, questions: [{ name: 'WWW.Example.TEST', type: 'A', class: 'IN' }] }));
      expect(mismatchOf(r, 7, Q)).toBeNull();
    });

    it.each([
      ['another id', { id: 8 }, 'id 8 instead of 7'],
      ['another name', { questions: [{ name: 'evil.test', type: 'A', class: 'IN' }] }, 'question for evil.test'],
      ['another type', { questions: [{ name: 'www.example.test', type: 'AAAA', class: 'IN' }] }, 'question of type AAAA'],
      ['another class', { questions: [{ name: 'www.example.test', type: 'A', class: 'CH' }] }, 'question of class CH'],
      ['no question', { questions: [] }, 'no question section'],
      ['a query', { type: 'query' }, 'not a response'],
    ] as const)('should refuse %s', (_label, change, why) => {
      const r = packet.decode(packet.encode({ type: 'response', id: 7, questions: [{ name: 'www.example.test', type: 'A', class: 'IN' }], ...(change as object) }));
      expect(mismatchOf(r, 7, Q)).toBe(why);
    });
  });

  describe(interpretMessage.name, () => {
    it('should take the smallest TTL of the chain that leads to the records', () => {
      const m = response({
        answers: [
          { type: 'CNAME', name: 'www.example.test', ttl: 30, data: 'host.example.test' },
          { type: 'A', name: 'host.example.test', ttl: 300, data: '192.0.2.1' },
        ],
      });
      expect(interpretMessage(m, 'www.example.test', 'A', OPTS)).toMatchObject({ kind: 'records', records: ['192.0.2.1'], ttl: 30, chain: ['host.example.test'] });
    });

    it('should ignore records of the asked type at names outside the chain', () => {
      const m = response({ answers: [{ type: 'A', name: 'elsewhere.test', ttl: 300, data: '203.0.113.1' }] });
      expect(interpretMessage(m, 'www.example.test', 'A', OPTS)).toMatchObject({ kind: 'negative', error: 'nodata' });
    });

    it('should use min(SOA TTL, SOA minimum) as the negative TTL (RFC 2308 §5)', () => {
      const soa = { type: 'SOA', name: 'example.test', ttl: 20, data: { mname: 'ns.example.test', rname: 'h.example.test', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 90 } } as packet.Answer;
      expect(interpretMessage(response({ rcode: 3, authorities: [soa] }), 'www.example.test', 'A', OPTS)).toMatchObject({ kind: 'negative', error: 'nxdomain', ttl: 20 });
    });

    it('should ask for the target when the message ends on an alias and proves nothing about it', () => {
      const m = response({ answers: [{ type: 'CNAME', name: 'www.example.test', ttl: 30, data: 'Host.Example.test.' }] });
      expect(interpretMessage(m, 'www.example.test', 'A', OPTS)).toMatchObject({ kind: 'follow', target: 'host.example.test', ttl: 30 });
    });

    it('should detect a loop with names passed by earlier messages', () => {
      const m = response({ answers: [{ type: 'CNAME', name: 'www.example.test', ttl: 30, data: 'start.example.test' }] });
      expect(interpretMessage(m, 'www.example.test', 'A', OPTS, new Set(['start.example.test']))).toMatchObject({ kind: 'loop' });
    });

    it('should read the extended rcode and RFC 8914 errors from the OPT record', () => {
      const ede = Buffer.concat([Buffer.from([0, 9]), Buffer.from('DNSKEY missing\0')]);
      const m = response({
        rcode: 2,
        additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [{ code: 15, data: ede }] } as unknown as packet.Answer],
      });
      expect(interpretMessage(m, 'www.example.test', 'A', OPTS)).toMatchObject({
        kind: 'failure',
        error: 'servfail',
        flags: { rcode: 'SERVFAIL', ede: [{ code: 9, text: 'DNSKEY missing' }] },
      });
      const badvers = response({ additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 1, flags: 0, options: [] } as unknown as packet.Answer] });
      expect(interpretMessage(badvers, 'www.example.test', 'A', OPTS)).toMatchObject({ kind: 'failure', error: 'badresp', rcode: 'BADVERS' });
    });
  });
});
