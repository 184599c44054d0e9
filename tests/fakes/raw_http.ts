/**
 * HTTP servers that misbehave below what `Deno.serve` lets a handler do:
 * one that accepts connections and never answers, one that answers with
 * response headers far larger than any client accepts. For the bounds and
 * caps of `cdx run`.
 *
 * @module
 */

/** A running raw server. */
export interface RawServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  port: number;
  /** Resolves when the first request's bytes have arrived (the client is now waiting). */
  requested: Promise<void>;
  /** Connections that have sent a request so far. */
  requests(): number;
  close(): Promise<void>;
}

function serve(answer: (conn: Deno.Conn) => Promise<void>): RawServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const conns = new Set<Deno.Conn>();
  let onRequest!: () => void;
  let requests = 0;
  const requested = new Promise<void>((resolve) => (onRequest = resolve));
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      (async () => {
        try {
          const buf = new Uint8Array(64 * 1024);
          if ((await conn.read(buf)) !== null) {
            requests++;
            onRequest();
          }
          await answer(conn);
        } catch { /* the client went away */ }
      })();
    }
  })().catch(() => {});
  const close = async () => {
    try {
      listener.close();
    } catch { /* closed */ }
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await accepting;
  };
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    requested,
    requests: () => requests,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Accepts, reads the request, and never sends a byte back (until closed). */
export function silentServer(): RawServer {
  return serve(() => new Promise<void>(() => {}));
}

/** Answers every request with `200 OK` and about `bytes` of response headers. */
export function hugeHeadersServer(bytes = 10 * 1024 * 1024): RawServer {
  const encoder = new TextEncoder();
  return serve(async (conn) => {
    const line = encoder.encode(`x-padding: ${"a".repeat(8000)}\r\n`);
    await conn.write(encoder.encode("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"));
    for (let sent = 0; sent < bytes; sent += line.length) await conn.write(line);
    await conn.write(encoder.encode("\r\n"));
    conn.close();
  });
}
