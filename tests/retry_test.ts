import assert from "node:assert/strict";
import { backoffMs, retry, type RetryNotice } from "../lib/retry.ts";
import { CancelledError, InterruptSignal, TimeoutError, timeoutSignal } from "../lib/cancel.ts";

class Transient extends Error {
  constructor(readonly retryAfterMs?: number) {
    super("transient");
  }
}

/** A function that fails with the given errors in turn, then returns "ok". */
function failing(...errors: Error[]) {
  const calls: number[] = [];
  const fn = (attempt: number) => {
    calls.push(attempt);
    const error = errors[attempt - 1];
    return error ? Promise.reject(error) : Promise.resolve("ok");
  };
  return { fn, calls };
}

Deno.test("backoff doubles from the base with jitter in [1-j, 1+j), capped", () => {
  assert.equal(backoffMs(1, {}, () => 0.5), 200);
  assert.equal(backoffMs(1, {}, () => 0), 180);
  assert.equal(backoffMs(3, {}, () => 0), 720);
  assert.ok(backoffMs(4, {}, () => 0.999) <= 1760);
  assert.equal(backoffMs(3, { baseMs: 500, jitter: 0 }), 2000);
  assert.equal(backoffMs(30, { jitter: 0, maxDelayMs: 5000 }), 5000);
});

Deno.test("retry: waits the backoff between attempts, passes the attempt number, returns the value", async () => {
  const { fn, calls } = failing(new Transient(), new Transient());
  const sleeps: number[] = [];
  const notices: RetryNotice[] = [];
  const value = await retry(fn, {
    decide: (_n, e) => (e instanceof Transient ? {} : undefined),
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    random: () => 0.5,
    onRetry: (n) => {
      notices.push(n);
    },
  });
  assert.equal(value, "ok");
  assert.deepEqual(calls, [1, 2, 3]);
  assert.deepEqual(sleeps, [200, 400]);
  assert.deepEqual(notices.map((n) => [n.attempt, n.delayMs]), [[1, 200], [2, 400]]);
});

Deno.test("retry: a server-requested wait replaces the backoff", async () => {
  const { fn } = failing(new Transient(3000));
  const sleeps: number[] = [];
  await retry(fn, {
    decide: (_n, e) => (e instanceof Transient ? { retryAfterMs: e.retryAfterMs } : undefined),
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
  });
  assert.deepEqual(sleeps, [3000]);
});

Deno.test("retry: when decide gives up, the last error is rethrown unchanged", async () => {
  const last = new Transient();
  const { fn, calls } = failing(new Transient(), last);
  const error = await retry(fn, {
    decide: (attempt) => (attempt < 2 ? {} : undefined),
    sleep: () => Promise.resolve(),
  }).catch((e) => e);
  assert.equal(error, last);
  assert.deepEqual(calls, [1, 2]);
  const permanent = new RangeError("no");
  const once = failing(permanent);
  const first = await retry(once.fn, {
    decide: (_n, e) => (e instanceof Transient ? {} : undefined),
    sleep: () => Promise.resolve(),
  }).catch((e) => e);
  assert.equal(first, permanent);
  assert.deepEqual(once.calls, [1]);
});

Deno.test("retry: Ctrl-C during a wait rejects with CancelledError, never the attempt's error", async () => {
  const controller = new AbortController();
  const { fn } = failing(new Transient());
  const error = await retry(fn, {
    decide: () => ({ retryAfterMs: 60_000 }),
    signal: controller.signal,
    onRetry: () => controller.abort(new InterruptSignal("SIGINT")),
  }).catch((e) => e);
  assert.ok(error instanceof CancelledError, String(error));
  assert.ok(error.reason instanceof InterruptSignal);
});

Deno.test("retry: an attempt that fails because the signal aborted gives the abort's error, decide is not asked", async () => {
  using bound = timeoutSignal(1, undefined, "bounded (--timeout)");
  let asked = 0;
  const error = await retry(
    () =>
      new Promise<never>((_, reject) =>
        bound.signal.addEventListener("abort", () => reject(bound.signal.reason))
      ),
    {
      decide: () => {
        asked++;
        return {};
      },
      signal: bound.signal,
    },
  ).catch((e) => e);
  assert.ok(error instanceof TimeoutError);
  assert.equal(error.message, "bounded (--timeout)");
  assert.equal(asked, 0);
});
