import { describe, expect, it } from 'vitest';
import { BoundedMemory } from './probe-memory.js';

describe(BoundedMemory.name, () => {
  it('should forget the least recently used key past its bound', async () => {
    const m = new BoundedMemory(2);
    await m.set('a', 1);
    await m.set('b', 2);
    await m.get('a');
    await m.set('c', 3);
    expect(await m.get('a')).toBe(1);
    expect(await m.get('b')).toBeUndefined();
    expect(await m.get('c')).toBe(3);
    expect(m.size).toBe(2);
  });

  it('should hand out copies, so a caller changes nothing until it sets', async () => {
    const m = new BoundedMemory();
    await m.set('k', { list: [1] });
    const read = (await m.get<{ list: number[] }>('k'))!;
    read.list.push(2);
    expect(await m.get('k')).toEqual({ list: [1] });
  });
});
