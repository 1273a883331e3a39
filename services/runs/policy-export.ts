import type { EntityManager } from "@mikro-orm/postgresql";
import { ConflictError } from "../../lib/errors.ts";
import type { EnvSpaces } from "../../rl/core/types.ts";
import { codeEnvSpaces, isCodeEnvId } from "../../rl/envs/code-env.ts";
import { exportPolicyOnnx, OnnxExportError } from "../../rl/export/onnx.ts";
import { decodeCheckpoint } from "../../rl/ppo/checkpoint.ts";
import { findCodeEnv } from "./code-envs.ts";

/**
 * A stored checkpoint's deterministic policy as ONNX (rl/export/onnx.ts). An environment defined by
 * code gives its declared spaces from its submission. A checkpoint that cannot be exported (its env's
 * spaces are gone or unknown, its network does not fit them) is a conflict with the run's state: 409,
 * with the exporter's message, which names the env.
 */
export async function exportRunPolicy(em: EntityManager, checkpoint: Uint8Array): Promise<Uint8Array> {
  const state = decodeCheckpoint(checkpoint);
  let spaces: EnvSpaces | undefined;
  if (isCodeEnvId(state.envId)) {
    const env = await findCodeEnv(em, state.envId);
    if (!env)
      throw new ConflictError(
        `cannot export the policy: the environment ${state.envId} no longer exists, and its spaces with it`,
      );
    spaces = codeEnvSpaces(env.spec);
  }
  try {
    return exportPolicyOnnx(state, spaces ? { spaces } : {}).bytes;
  } catch (err) {
    if (err instanceof OnnxExportError) throw new ConflictError(err.message, { envId: state.envId });
    throw err;
  }
}
