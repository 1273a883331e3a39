/**
 * Correct solutions of the catalogue's exercises, as a learner would write them (plain JavaScript,
 * not the reference implementations): the tests check that each one passes with full marks.
 */
export const SOLUTIONS: Record<string, string> = {
  "discounted-returns": `
function discountedReturns(rewards, gamma) {
  const out = new Array(rewards.length);
  let g = 0;
  for (let t = rewards.length - 1; t >= 0; t--) { g = rewards[t] + gamma * g; out[t] = g; }
  return out;
}`,
  gae: `
function gae(rewards, values, terminated, truncated, finalValues, nextValue, gamma, lambda) {
  const T = rewards.length;
  const advantages = new Array(T).fill(0);
  let last = 0;
  for (let t = T - 1; t >= 0; t--) {
    const done = terminated[t] || truncated[t];
    const r = truncated[t] && !terminated[t] ? rewards[t] + gamma * finalValues[t] : rewards[t];
    const next = t === T - 1 ? nextValue : values[t + 1];
    const delta = r + gamma * next * (done ? 0 : 1) - values[t];
    last = delta + gamma * lambda * (done ? 0 : 1) * last;
    advantages[t] = last;
  }
  return { advantages, returns: advantages.map((a, t) => a + values[t]) };
}`,
  "advantage-normalization": `
function normalizeAdvantages(a) {
  const n = a.length;
  const mean = a.reduce((s, x) => s + x, 0) / n;
  const std = Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
  return a.map((x) => (x - mean) / (std + 1e-8));
}`,
  "clipped-surrogate-loss": `
function clippedSurrogateLoss(newLogprobs, oldLogprobs, advantages, eps) {
  let pg = 0, clipped = 0, kl = 0;
  const M = newLogprobs.length;
  for (let i = 0; i < M; i++) {
    const logratio = newLogprobs[i] - oldLogprobs[i];
    const ratio = Math.exp(logratio);
    const A = advantages[i];
    pg += Math.max(-A * ratio, -A * Math.min(Math.max(ratio, 1 - eps), 1 + eps));
    if (Math.abs(ratio - 1) > eps) clipped++;
    kl += ratio - 1 - logratio;
  }
  return { pg_loss: pg / M, clipfrac: clipped / M, approx_kl: kl / M };
}`,
  "clipped-value-loss": `
function clippedValueLoss(newValues, oldValues, returns, eps) {
  let sum = 0;
  for (let i = 0; i < newValues.length; i++) {
    const clippedV = oldValues[i] + Math.min(Math.max(newValues[i] - oldValues[i], -eps), eps);
    sum += Math.max((newValues[i] - returns[i]) ** 2, (clippedV - returns[i]) ** 2);
  }
  return 0.5 * sum / newValues.length;
}`,
  "mountain-car-shaping": `
function shapeReward(obs, action, reward, nextObs, terminated) {
  // Potential: mechanical energy (kinetic + potential), scaled.
  const energy = (s) => (0.5 * s[1] * s[1]) / 0.0025 + Math.sin(3 * s[0]) / 3;
  return reward + 100 * (0.99 * energy(nextObs) - energy(obs));
}`,
};
