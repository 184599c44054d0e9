/**
 * A local stand-in for Sentry's envelope ingest endpoint
 * (`POST /api/<project>/envelope/`), on 127.0.0.1 port 0. It records every
 * request and answers according to its mode: a status code (200 echoes the
 * event id like Sentry), or `hang` (never answers until closed).
 *
 * @module
 */
import { parseEnvelope } from "@sentry/core";

/** How the fake answers. */
export type SentryMode = { status: number; retryAfter?: string } | "hang";

/** A request the fake received. */
export interface ReceivedEnvelope {
  path: string;
  headers: Headers;
  body: Uint8Array;
}

/** A running fake. Close it with `await using` or {@linkcode FakeSentry.close}. */
export interface FakeSentry extends AsyncDisposable {
  /** A DSN pointing at this server (project 4242, key `publickey123`). */
  dsn: string;
  /** Requests received so far. */
  received: ReceivedEnvelope[];
  /** Changes the answer of later requests. */
  setMode(mode: SentryMode): void;
  close(): Promise<void>;
}

/**
 * Starts the fake.
 *
 * @example
 * ```ts
 * await using sentry = startFakeSentry({ status: 200 });
 * // CDX_FEEDBACK_DSN=sentry.dsn cdx feedback --upload --yes
 * ```
 */
export function startFakeSentry(initial: SentryMode = { status: 200 }): FakeSentry {
  let mode = initial;
  const received: ReceivedEnvelope[] = [];
  const hanging = new Set<() => void>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const url = new URL(request.url);
      const body = new Uint8Array(await request.arrayBuffer());
      received.push({ path: url.pathname, headers: request.headers, body });
      if (mode === "hang") {
        await new Promise<void>((resolve) => hanging.add(resolve));
        return new Response("closing", { status: 503 });
      }
      if (!/^\/api\/\d+\/envelope\/$/.test(url.pathname)) {
        return new Response("not found", { status: 404 });
      }
      if (mode.status >= 200 && mode.status < 300) {
        const [header] = parseEnvelope(body);
        return Response.json({ id: (header as { event_id?: string }).event_id }, {
          status: mode.status,
        });
      }
      const headers = new Headers({ "content-type": "application/json" });
      if (mode.retryAfter) headers.set("retry-after", mode.retryAfter);
      const detail = mode.status === 413 ? "envelope exceeded size limits" : "try again later";
      return new Response(JSON.stringify({ detail }), { status: mode.status, headers });
    },
  );
  const { port } = server.addr as Deno.NetAddr;
  const close = async () => {
    for (const release of hanging) release();
    hanging.clear();
    await server.shutdown();
  };
  return {
    dsn: `http://publickey123@127.0.0.1:${port}/4242`,
    received,
    setMode: (next) => {
      mode = next;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A DSN whose port refuses connections (a listener opened and closed at once). */
export function refusedDsn(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return `http://publickey123@127.0.0.1:${port}/4242`;
}
