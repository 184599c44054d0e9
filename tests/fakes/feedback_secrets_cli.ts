/**
 * Test-only cdx entry point: the real `main()` of cli.ts (so the real
 * feedback capture and exit-hook persistence run), with a dispatch that reads
 * secrets from stdin as JSON `{registered: string[], unregistered: string[]}`,
 * registers the first list with `ctx.secrets`, logs the values at trace in
 * the shapes cdx's modules log them (the unregistered ones in their natural
 * context, e.g. a header line), and dumps the raw ring bytes to
 * `$CDX_TEST_RING_DUMP`; with `$CDX_TEST_FAIL_WITH_SECRETS` set it then throws an
 * error whose message holds every registered secret. Used by
 * tests/feedback_redaction_test.ts.
 *
 * @module
 */
import { getLogger } from "../../lib/log.ts";
import { main } from "../../cli.ts";
import { installedCapture } from "../../lib/feedback/capture.ts";

const code = await main(Deno.args, {
  dispatch: async (ctx) => {
    const input = JSON.parse(await new Response(ctx.stdin.readable).text()) as {
      registered: string[];
      unregistered: string[];
    };
    for (const secret of input.registered) ctx.secrets.register(secret);
    const log = ctx.logger.getChild("auth");
    const tags = getLogger(["cdx", "feedback_tags"]);
    // Registered values: in every shape modules log values in.
    for (const secret of input.registered) {
      log.trace("value {value}", { value: secret });
      log.trace`tagged template ${secret}`;
      log.debug("response body {body}", { body: JSON.stringify({ access_token: secret, n: 1 }) });
      log.trace("request sent", { headers: { authorization: `Bearer ${secret}` }, status: 200 });
      log.info("callback {url}", { url: `http://127.0.0.1/cb?code=${secret}&state=s` });
      log.warn("refresh failed: {error}", { error: new Error(`token ${secret} rejected`) });
      log.error("stdin was {text}", { text: secret });
      tags.info("tags", { [`tag_${secret.length}`]: secret });
    }
    // Unregistered secrets in their natural context (a header line, a body): the patterns' job.
    for (const text of input.unregistered) {
      log.trace(text);
      log.trace("line {line}", { line: text });
      log.debug("response", { body: text, status: 400 });
      log.warn("failed: {error}", { error: new Error(`server said ${text}`) });
      tags.info("tags", { [`line_${text.length}`]: text });
    }
    const dump = ctx.env.get("CDX_TEST_RING_DUMP");
    if (dump) await Deno.writeFile(dump, installedCapture(ctx)!.capture.ring.bytes());
    if (ctx.env.get("CDX_TEST_FAIL_WITH_SECRETS")) {
      // An unexpected error whose message holds every secret: cli.ts prints it masked.
      throw new Error(`failed with ${input.registered.join(" and ")}`);
    }
    return 0;
  },
});
Deno.exit(code);
