/**
 * Option parsers shared by several commands.
 *
 * @module
 */
import { flag, option } from "@optique/core/primitives";
import { optional } from "@optique/core/modifiers";
import { choice } from "@optique/core/valueparser";
import { message } from "@optique/core/message";

import { STORE_MODES } from "../lib/auth/modes.ts";

// The type lives in lib/auth so lib never imports commands/.
export { STORE_MODES, type StoreMode } from "../lib/auth/modes.ts";

/** `--store file|keyring|auto|ephemeral`. */
export const storeOption = optional(
  option("--store", choice(STORE_MODES, { metavar: "STORE" }), {
    description:
      message`where credentials live; overrides ${"CDX_CREDENTIALS_STORE"} and config.toml's cli_auth_credentials_store`,
  }),
);

/** `--json`: print data as JSON on stdout. */
export const jsonOption = optional(
  flag("--json", { description: message`print the result as JSON on stdout` }),
);
