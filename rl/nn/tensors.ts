/**
 * Names and shapes of the tensors inside the flat parameter vector θ, in tfjs layout: what the
 * checkpoint manifest lists and what `getPolicyWeights()` hands to env runners.
 */
import type { ParameterLayout } from "./actor-critic.ts";
import type { MlpLayout } from "./mlp.ts";

export interface TensorSlice {
  name: string;
  shape: number[];
  /** Offset in floats within θ. */
  offset: number;
  size: number;
}

function mlpSlices(prefix: string, layout: MlpLayout, base: number): TensorSlice[] {
  return layout.layers.flatMap((layer, l) => [
    {
      name: `${prefix}.${l}.kernel`,
      shape: [layer.inDim, layer.outDim],
      offset: base + layer.w,
      size: layer.inDim * layer.outDim,
    },
    { name: `${prefix}.${l}.bias`, shape: [layer.outDim], offset: base + layer.b, size: layer.outDim },
  ]);
}

/** Every tensor of θ in storage order: actor layers, log-std (Box only), critic layers. */
export function tensorSlices(layout: ParameterLayout): TensorSlice[] {
  const slices = mlpSlices("actor", layout.actor, 0);
  if (layout.policySize > layout.actor.size) {
    slices.push({
      name: "actor_logstd",
      // [d] for the diagonal Gaussian, [latentDim, d] for gSDE's log-std matrix.
      shape: layout.logstdShape,
      offset: layout.logstd,
      size: layout.policySize - layout.actor.size,
    });
  }
  return [...slices, ...mlpSlices("critic", layout.critic, layout.criticOffset)];
}
