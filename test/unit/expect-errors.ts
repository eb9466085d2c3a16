// What a call threw or a promise rejected with, for assertions on the error itself. Not a test file.
import { expect } from 'vitest';

/** The error `p` rejects with, checked to be a `kind`; fails the test when it resolves. */
export async function rejection<E extends Error>(p: Promise<unknown>, kind: abstract new (...args: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(kind);
    return e as E;
  }
  throw new Error('expected a rejection');
}

/** The error `f` throws, checked to be a `kind`; fails the test when it returns. */
export function thrown<E extends Error>(f: () => unknown, kind: abstract new (...args: never[]) => E): E {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(kind);
    return e as E;
  }
  throw new Error('did not throw');
}
