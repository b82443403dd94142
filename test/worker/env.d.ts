import type { D1Migration } from "@cloudflare/vitest-pool-workers";
import type { Bindings } from "../../workers/env.js";

declare global {
  namespace Cloudflare {
    interface Env extends Bindings {
      TEST_MIGRATIONS: D1Migration[];
      TEST_SEED: string[];
      TEST_AUTH_PRIVATE_JWK: string;
      TEST_RETIRED_SIGNING_PRIVATE_JWK: string;
    }
    interface GlobalProps {
      mainModule: typeof import("../../workers/index.js");
    }
  }
}
