/**
 * GELU (the tanh form GPT-2 uses) with a rational tanh: V8's Math.tanh costs ~40 ns here, and a transformer step
 * calls it a million times. The model's GELU runs in simd-kernels.ts's f32x4 kernel, which evaluates this same
 * rational tanh (training and incremental decoding both call it); these scalar forms serve sizes it does not fit.
 */
const GELU_C = Math.sqrt(2 / Math.PI)

// Eigen's float tanh: a [13/6] rational approximation on [-7.9, 7.9] (beyond it tanh rounds to ±1 in float32);
// within 3e-7 of Math.tanh everywhere, and plain arithmetic, so the same bits on every machine.
const A1 = 4.89352455891786e-03, A3 = 6.37261928875436e-04, A5 = 1.48572235717979e-05, A7 = 5.12229709037114e-08
const A9 = -8.60467152213735e-11, A11 = 2.00018790482477e-13, A13 = -2.76076847742355e-16
const B0 = 4.89352518554385e-03, B2 = 2.26843463243900e-03, B4 = 1.18534705686654e-04, B6 = 1.19825839466702e-06
const CLAMP = 7.90531110763549805

export const tanhRational = (x: number): number => {
  const c = x > CLAMP ? CLAMP : x < -CLAMP ? -CLAMP : x
  const x2 = c * c
  const p = c * (((((((A13 * x2 + A11) * x2 + A9) * x2 + A7) * x2 + A5) * x2 + A3) * x2) + A1)
  const q = ((B6 * x2 + B4) * x2 + B2) * x2 + B0
  return p / q
}

/** tanh(√(2/π)·(v + 0.044715·v³)), the inner term that GELU and its derivative share. */
export const geluTanh = (v: number): number => tanhRational(GELU_C * (v + 0.044715 * v * v * v))

/** GELU(v) given t = geluTanh(v). */
export const geluFrom = (v: number, t: number): number => 0.5 * v * (1 + t)

/** dGELU/dv given t = geluTanh(v). */
export const geluSlope = (v: number, t: number): number =>
  0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GELU_C * (1 + 3 * 0.044715 * v * v)
