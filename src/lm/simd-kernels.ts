/**
 * The transformer's WebAssembly SIMD (f32x4) kernels: causal attention, GELU, LayerNorm and dense-layer gradients.
 *
 * Causal attention: the whole fused QKV matrix [B·T, 3d] is copied into the
 * kernels' memory once per call and every kernel takes row pitches, so a (batch row, head) tile is addressed in place
 * (no per-row copies). Softmax and its gradient run in wasm too, with a polynomial exp (Cephes' expf: range
 * reduction by ln 2, degree-5 polynomial, within 2 ulp): pure arithmetic, so results are bit-deterministic. Sums run
 * in a fixed order. The kernels are WAT text assembled at load by wabt (no binary in the repository); hd % 4 == 0.
 * The same module holds the transformer's other elementwise kernels, GELU and LayerNorm (one JS pass each was ~20 ns
 * per element; f32x4 is ~1 ns): a call copies its inputs in and its outputs out, and no state stays between calls.
 */
import wabtInit from "wabt"

const WAT = `
(module
  (memory (export "memory") 1)
  ;; s[i, j] = scale * q[i]·k[j] for j <= i (pitches in bytes)
  (func (export "scores") (param $q i32) (param $qp i32) (param $k i32) (param $kp i32) (param $s i32) (param $sp i32)
    (param $t i32) (param $hd i32) (param $scale f32)
    (local $i i32) (local $j i32) (local $c i32) (local $qi i32) (local $kj i32) (local $si i32) (local $acc v128) (local $rb i32)
    (local.set $rb (i32.shl (local.get $hd) (i32.const 2)))
    (block $di (loop $li
      (br_if $di (i32.ge_u (local.get $i) (local.get $t)))
      (local.set $qi (i32.add (local.get $q) (i32.mul (local.get $i) (local.get $qp))))
      (local.set $si (i32.add (local.get $s) (i32.mul (local.get $i) (local.get $sp))))
      (local.set $j (i32.const 0))
      (block $dj (loop $lj
        (br_if $dj (i32.gt_u (local.get $j) (local.get $i)))
        (local.set $kj (i32.add (local.get $k) (i32.mul (local.get $j) (local.get $kp))))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $c (i32.const 0))
        (block $dc (loop $lc
          (br_if $dc (i32.ge_u (local.get $c) (local.get $rb)))
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul
            (v128.load (i32.add (local.get $qi) (local.get $c)))
            (v128.load (i32.add (local.get $kj) (local.get $c))))))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br $lc)))
        (f32.store (i32.add (local.get $si) (i32.shl (local.get $j) (i32.const 2)))
          (f32.mul (local.get $scale) (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
            (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc))))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $lj)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $li))))
  ;; o[i] = sum over j <= i of p[i, j] * x[j]
  (func (export "pv") (param $p i32) (param $pp i32) (param $x i32) (param $xp i32) (param $o i32) (param $op i32)
    (param $t i32) (param $hd i32)
    (local $i i32) (local $j i32) (local $c i32) (local $acc v128) (local $rb i32) (local $prow i32)
    (local.set $rb (i32.shl (local.get $hd) (i32.const 2)))
    (block $di (loop $li
      (br_if $di (i32.ge_u (local.get $i) (local.get $t)))
      (local.set $prow (i32.add (local.get $p) (i32.mul (local.get $i) (local.get $pp))))
      (local.set $c (i32.const 0))
      (block $dc (loop $lc
        (br_if $dc (i32.ge_u (local.get $c) (local.get $rb)))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $dj (loop $lj
          (br_if $dj (i32.gt_u (local.get $j) (local.get $i)))
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul
            (f32x4.splat (f32.load (i32.add (local.get $prow) (i32.shl (local.get $j) (i32.const 2)))))
            (v128.load (i32.add (i32.add (local.get $x) (i32.mul (local.get $j) (local.get $xp))) (local.get $c))))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $lj)))
        (v128.store (i32.add (i32.add (local.get $o) (i32.mul (local.get $i) (local.get $op))) (local.get $c)) (local.get $acc))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $lc)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $li))))
  ;; o[j] = sum over i >= j of p[i, j] * x[i]
  (func (export "ptv") (param $p i32) (param $pp i32) (param $x i32) (param $xp i32) (param $o i32) (param $op i32)
    (param $t i32) (param $hd i32)
    (local $i i32) (local $j i32) (local $c i32) (local $acc v128) (local $rb i32)
    (local.set $rb (i32.shl (local.get $hd) (i32.const 2)))
    (block $dj (loop $lj
      (br_if $dj (i32.ge_u (local.get $j) (local.get $t)))
      (local.set $c (i32.const 0))
      (block $dc (loop $lc
        (br_if $dc (i32.ge_u (local.get $c) (local.get $rb)))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $i (local.get $j))
        (block $di (loop $li
          (br_if $di (i32.ge_u (local.get $i) (local.get $t)))
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul
            (f32x4.splat (f32.load (i32.add (i32.add (local.get $p) (i32.mul (local.get $i) (local.get $pp)))
              (i32.shl (local.get $j) (i32.const 2)))))
            (v128.load (i32.add (i32.add (local.get $x) (i32.mul (local.get $i) (local.get $xp))) (local.get $c))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $li)))
        (v128.store (i32.add (i32.add (local.get $o) (i32.mul (local.get $j) (local.get $op))) (local.get $c)) (local.get $acc))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $lc)))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $lj))))
  ;; e^x per lane (Cephes expf); x is clamped below at ln(2^-126), so tiny results are 1.2e-38, not 0
  (func $exp (param $x v128) (result v128) (local $n v128) (local $r v128) (local $y v128)
    (local.set $x (f32x4.min (f32x4.max (local.get $x) (v128.const f32x4 -87.33654 -87.33654 -87.33654 -87.33654))
      (v128.const f32x4 88.37626 88.37626 88.37626 88.37626)))
    (local.set $n (f32x4.nearest (f32x4.mul (local.get $x) (v128.const f32x4 1.44269504 1.44269504 1.44269504 1.44269504))))
    (local.set $r (f32x4.sub
      (f32x4.sub (local.get $x) (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)))
      (f32x4.mul (local.get $n) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $y (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $r)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    (local.set $y (f32x4.add (f32x4.add (f32x4.mul (local.get $y) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r))
      (v128.const f32x4 1 1 1 1)))
    (f32x4.mul (local.get $y)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))
  ;; lanes j..j+3 of row i that are causal (j <= i): all ones, else zeros
  (func $causal (param $j i32) (param $i i32) (result v128)
    (i32x4.le_s (i32x4.add (i32x4.splat (local.get $j)) (v128.const i32x4 0 1 2 3)) (i32x4.splat (local.get $i))))
  (func $sum (param $v v128) (result f32)
    (f32.add (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))
  ;; each row i of s [t, pitch] becomes softmax(s[i, 0..i]); lanes past i in its last group of 4 become 0
  (func (export "softmaxRows") (param $s i32) (param $sp i32) (param $t i32)
    (local $i i32) (local $j i32) (local $n i32) (local $row i32) (local $m v128) (local $v v128) (local $acc v128) (local $mx f32)
    (local $inv v128)
    (block $di (loop $li
      (br_if $di (i32.ge_u (local.get $i) (local.get $t)))
      (local.set $row (i32.add (local.get $s) (i32.mul (local.get $i) (local.get $sp))))
      (local.set $n (i32.and (i32.add (local.get $i) (i32.const 4)) (i32.const -4)))
      (local.set $m (v128.const f32x4 -inf -inf -inf -inf))
      (local.set $j (i32.const 0))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_u (local.get $j) (local.get $n)))
        (local.set $m (f32x4.max (local.get $m) (v128.bitselect
          (v128.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
          (v128.const f32x4 -inf -inf -inf -inf) (call $causal (local.get $j) (local.get $i)))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $l1)))
      (local.set $mx (f32.max (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m)))
        (f32.max (f32x4.extract_lane 2 (local.get $m)) (f32x4.extract_lane 3 (local.get $m)))))
      (local.set $m (f32x4.splat (local.get $mx)))
      (local.set $acc (v128.const f32x4 0 0 0 0))
      (local.set $j (i32.const 0))
      (block $d2 (loop $l2
        (br_if $d2 (i32.ge_u (local.get $j) (local.get $n)))
        (local.set $v (v128.bitselect
          (call $exp (f32x4.sub (v128.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))) (local.get $m)))
          (v128.const f32x4 0 0 0 0) (call $causal (local.get $j) (local.get $i))))
        (v128.store (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))) (local.get $v))
        (local.set $acc (f32x4.add (local.get $acc) (local.get $v)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $l2)))
      (local.set $inv (f32x4.splat (f32.div (f32.const 1) (call $sum (local.get $acc)))))
      (local.set $j (i32.const 0))
      (block $d3 (loop $l3
        (br_if $d3 (i32.ge_u (local.get $j) (local.get $n)))
        (v128.store (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))
          (f32x4.mul (v128.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))) (local.get $inv)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $l3)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $li))))
  ;; dp[i, j] = scale * p[i, j] * (dp[i, j] - sum over k <= i of p[i, k] dp[i, k]); lanes past i become 0
  (func (export "softmaxGradRows") (param $p i32) (param $dp i32) (param $sp i32) (param $t i32) (param $scale f32)
    (local $i i32) (local $j i32) (local $n i32) (local $pr i32) (local $dr i32) (local $acc v128) (local $dot v128) (local $sc v128)
    (local.set $sc (f32x4.splat (local.get $scale)))
    (block $di (loop $li
      (br_if $di (i32.ge_u (local.get $i) (local.get $t)))
      (local.set $pr (i32.add (local.get $p) (i32.mul (local.get $i) (local.get $sp))))
      (local.set $dr (i32.add (local.get $dp) (i32.mul (local.get $i) (local.get $sp))))
      (local.set $n (i32.shl (i32.and (i32.add (local.get $i) (i32.const 4)) (i32.const -4)) (i32.const 2)))
      (local.set $acc (v128.const f32x4 0 0 0 0))
      (local.set $j (i32.const 0))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_u (local.get $j) (local.get $n)))
        (local.set $acc (f32x4.add (local.get $acc) (v128.bitselect
          (f32x4.mul (v128.load (i32.add (local.get $pr) (local.get $j))) (v128.load (i32.add (local.get $dr) (local.get $j))))
          (v128.const f32x4 0 0 0 0) (call $causal (i32.shr_u (local.get $j) (i32.const 2)) (local.get $i)))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $l1)))
      (local.set $dot (f32x4.splat (call $sum (local.get $acc))))
      (local.set $j (i32.const 0))
      (block $d2 (loop $l2
        (br_if $d2 (i32.ge_u (local.get $j) (local.get $n)))
        (v128.store (i32.add (local.get $dr) (local.get $j)) (v128.bitselect
          (f32x4.mul (f32x4.mul (v128.load (i32.add (local.get $pr) (local.get $j)))
            (f32x4.sub (v128.load (i32.add (local.get $dr) (local.get $j))) (local.get $dot))) (local.get $sc))
          (v128.const f32x4 0 0 0 0) (call $causal (i32.shr_u (local.get $j) (i32.const 2)) (local.get $i))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $l2)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $li))))
  ;; tanh(√(2/π)·(v + 0.044715·v³)) per lane, with gelu.ts's rational tanh (Eigen's float tanh) in f32
  (func $geluTanh (param $v v128) (result v128) (local $c v128) (local $x2 v128)
    (local.set $c (f32x4.mul (v128.const f32x4 0.7978845608028654 0.7978845608028654 0.7978845608028654 0.7978845608028654) (f32x4.add (local.get $v)
      (f32x4.mul (f32x4.mul (f32x4.mul (v128.const f32x4 0.044715 0.044715 0.044715 0.044715) (local.get $v)) (local.get $v)) (local.get $v)))))
    (local.set $c (f32x4.min (f32x4.max (local.get $c) (v128.const f32x4 -7.90531110763549805 -7.90531110763549805 -7.90531110763549805 -7.90531110763549805)) (v128.const f32x4 7.90531110763549805 7.90531110763549805 7.90531110763549805 7.90531110763549805)))
    (local.set $x2 (f32x4.mul (local.get $c) (local.get $c)))
    (f32x4.div (f32x4.mul (local.get $c) (f32x4.add (f32x4.mul (f32x4.add (f32x4.mul (f32x4.add (f32x4.mul (f32x4.add (f32x4.mul (f32x4.add (f32x4.mul (f32x4.add (f32x4.mul (v128.const f32x4 -2.76076847742355e-16 -2.76076847742355e-16 -2.76076847742355e-16 -2.76076847742355e-16) (local.get $x2)) (v128.const f32x4 2.00018790482477e-13 2.00018790482477e-13 2.00018790482477e-13 2.00018790482477e-13)) (local.get $x2)) (v128.const f32x4 -8.60467152213735e-11 -8.60467152213735e-11 -8.60467152213735e-11 -8.60467152213735e-11)) (local.get $x2)) (v128.const f32x4 5.12229709037114e-08 5.12229709037114e-08 5.12229709037114e-08 5.12229709037114e-08)) (local.get $x2)) (v128.const f32x4 1.48572235717979e-05 1.48572235717979e-05 1.48572235717979e-05 1.48572235717979e-05)) (local.get $x2)) (v128.const f32x4 6.37261928875436e-04 6.37261928875436e-04 6.37261928875436e-04 6.37261928875436e-04)) (local.get $x2)) (v128.const f32x4 4.89352455891786e-03 4.89352455891786e-03 4.89352455891786e-03 4.89352455891786e-03)))
      (f32x4.add (f32x4.mul (f32x4.add (f32x4.mul (f32x4.add (f32x4.mul (v128.const f32x4 1.19825839466702e-06 1.19825839466702e-06 1.19825839466702e-06 1.19825839466702e-06) (local.get $x2)) (v128.const f32x4 1.18534705686654e-04 1.18534705686654e-04 1.18534705686654e-04 1.18534705686654e-04)) (local.get $x2)) (v128.const f32x4 2.26843463243900e-03 2.26843463243900e-03 2.26843463243900e-03 2.26843463243900e-03)) (local.get $x2)) (v128.const f32x4 4.89352518554385e-03 4.89352518554385e-03 4.89352518554385e-03 4.89352518554385e-03))))
  ;; y = GELU(x) = 0.5·x·(1 + tanh(...)) over n floats (n % 4 == 0)
  (func (export "gelu") (param $x i32) (param $y i32) (param $n i32) (local $o i32) (local $v v128)
    (local.set $n (i32.shl (local.get $n) (i32.const 2)))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $o) (local.get $n)))
      (local.set $v (v128.load (i32.add (local.get $x) (local.get $o))))
      (v128.store (i32.add (local.get $y) (local.get $o)) (f32x4.mul (f32x4.mul (v128.const f32x4 0.5 0.5 0.5 0.5) (local.get $v))
        (f32x4.add (v128.const f32x4 1 1 1 1) (call $geluTanh (local.get $v)))))
      (local.set $o (i32.add (local.get $o) (i32.const 16)))
      (br $l))))
  ;; dx = dy · GELU'(x), GELU'(x) = 0.5·(1 + t) + 0.5·x·(1 - t²)·√(2/π)·(1 + 3·0.044715·x²) (t recomputed)
  (func (export "geluGrad") (param $x i32) (param $dy i32) (param $dx i32) (param $n i32) (local $o i32) (local $v v128) (local $t v128)
    (local.set $n (i32.shl (local.get $n) (i32.const 2)))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $o) (local.get $n)))
      (local.set $v (v128.load (i32.add (local.get $x) (local.get $o))))
      (local.set $t (call $geluTanh (local.get $v)))
      (v128.store (i32.add (local.get $dx) (local.get $o)) (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $o)))
        (f32x4.add (f32x4.mul (v128.const f32x4 0.5 0.5 0.5 0.5) (f32x4.add (v128.const f32x4 1 1 1 1) (local.get $t)))
          (f32x4.mul (f32x4.mul (f32x4.mul (f32x4.mul (v128.const f32x4 0.5 0.5 0.5 0.5) (local.get $v)) (f32x4.sub (v128.const f32x4 1 1 1 1) (f32x4.mul (local.get $t) (local.get $t))))
            (v128.const f32x4 0.7978845608028654 0.7978845608028654 0.7978845608028654 0.7978845608028654))
            (f32x4.add (v128.const f32x4 1 1 1 1) (f32x4.mul (f32x4.mul (v128.const f32x4 0.134145 0.134145 0.134145 0.134145) (local.get $v)) (local.get $v)))))))
      (local.set $o (i32.add (local.get $o) (i32.const 16)))
      (br $l))))
  ;; LayerNorm rows of x [rows, d] (d % 4 == 0): y = (x - mean)·rstd·g + b; stats[r] = (mean, rstd)
  (func (export "layerNorm") (param $x i32) (param $g i32) (param $b i32) (param $y i32) (param $stats i32) (param $rows i32) (param $d i32)
    (local $r i32) (local $c i32) (local $rb i32) (local $row i32) (local $out i32) (local $acc v128) (local $e v128)
    (local $mean f32) (local $rstd f32) (local $mv v128) (local $sv v128)
    (local.set $rb (i32.shl (local.get $d) (i32.const 2)))
    (block $dr (loop $lr
      (br_if $dr (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $row (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $rb))))
      (local.set $out (i32.add (local.get $y) (i32.mul (local.get $r) (local.get $rb))))
      (local.set $acc (v128.const f32x4 0 0 0 0))
      (local.set $c (i32.const 0))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_u (local.get $c) (local.get $rb)))
        (local.set $acc (f32x4.add (local.get $acc) (v128.load (i32.add (local.get $row) (local.get $c)))))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $l1)))
      (local.set $mean (f32.div (call $sum (local.get $acc)) (f32.convert_i32_u (local.get $d))))
      (local.set $mv (f32x4.splat (local.get $mean)))
      (local.set $acc (v128.const f32x4 0 0 0 0))
      (local.set $c (i32.const 0))
      (block $d2 (loop $l2
        (br_if $d2 (i32.ge_u (local.get $c) (local.get $rb)))
        (local.set $e (f32x4.sub (v128.load (i32.add (local.get $row) (local.get $c))) (local.get $mv)))
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $e) (local.get $e))))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $l2)))
      (local.set $rstd (f32.div (f32.const 1) (f32.sqrt (f32.add
        (f32.div (call $sum (local.get $acc)) (f32.convert_i32_u (local.get $d))) (f32.const 1e-5)))))
      (local.set $sv (f32x4.splat (local.get $rstd)))
      (f32.store (i32.add (local.get $stats) (i32.shl (local.get $r) (i32.const 3))) (local.get $mean))
      (f32.store offset=4 (i32.add (local.get $stats) (i32.shl (local.get $r) (i32.const 3))) (local.get $rstd))
      (local.set $c (i32.const 0))
      (block $d3 (loop $l3
        (br_if $d3 (i32.ge_u (local.get $c) (local.get $rb)))
        (v128.store (i32.add (local.get $out) (local.get $c)) (f32x4.add
          (f32x4.mul (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $row) (local.get $c))) (local.get $mv)) (local.get $sv))
            (v128.load (i32.add (local.get $g) (local.get $c))))
          (v128.load (i32.add (local.get $b) (local.get $c)))))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $l3)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $lr))))
  ;; acc[c..c+1] (f64x2) += lanes 0-1 of v, acc[c+2..c+3] += lanes 2-3
  (func $accumulate64 (param $acc i32) (param $v v128)
    (v128.store (local.get $acc) (f64x2.add (v128.load (local.get $acc)) (f64x2.promote_low_f32x4 (local.get $v))))
    (v128.store offset=16 (local.get $acc) (f64x2.add (v128.load offset=16 (local.get $acc))
      (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))))
  ;; LayerNorm gradient: dx [rows, d]; dg64/db64 [d] (f64, zeroed by the caller) += column sums of dy·x̂ and dy
  (func (export "layerNormGrad") (param $x i32) (param $dy i32) (param $g i32) (param $stats i32) (param $dx i32)
    (param $dg64 i32) (param $db64 i32) (param $rows i32) (param $d i32)
    (local $r i32) (local $c i32) (local $rb i32) (local $row i32) (local $grow i32) (local $xh v128) (local $gy v128) (local $dh v128)
    (local $m1 v128) (local $m2 v128) (local $mv v128) (local $sv v128) (local $inv f32)
    (local.set $rb (i32.shl (local.get $d) (i32.const 2)))
    (local.set $inv (f32.div (f32.const 1) (f32.convert_i32_u (local.get $d))))
    (block $dr (loop $lr
      (br_if $dr (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $row (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $rb))))
      (local.set $grow (i32.add (local.get $dy) (i32.mul (local.get $r) (local.get $rb))))
      (local.set $mv (f32x4.splat (f32.load (i32.add (local.get $stats) (i32.shl (local.get $r) (i32.const 3))))))
      (local.set $sv (f32x4.splat (f32.load offset=4 (i32.add (local.get $stats) (i32.shl (local.get $r) (i32.const 3))))))
      (local.set $m1 (v128.const f32x4 0 0 0 0))
      (local.set $m2 (v128.const f32x4 0 0 0 0))
      (local.set $c (i32.const 0))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_u (local.get $c) (local.get $rb)))
        (local.set $xh (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $row) (local.get $c))) (local.get $mv)) (local.get $sv)))
        (local.set $gy (v128.load (i32.add (local.get $grow) (local.get $c))))
        (call $accumulate64 (i32.add (local.get $dg64) (i32.shl (local.get $c) (i32.const 1))) (f32x4.mul (local.get $gy) (local.get $xh)))
        (call $accumulate64 (i32.add (local.get $db64) (i32.shl (local.get $c) (i32.const 1))) (local.get $gy))
        (local.set $dh (f32x4.mul (local.get $gy) (v128.load (i32.add (local.get $g) (local.get $c)))))
        (local.set $m1 (f32x4.add (local.get $m1) (local.get $dh)))
        (local.set $m2 (f32x4.add (local.get $m2) (f32x4.mul (local.get $dh) (local.get $xh))))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $l1)))
      (local.set $m1 (f32x4.splat (f32.mul (call $sum (local.get $m1)) (local.get $inv))))
      (local.set $m2 (f32x4.splat (f32.mul (call $sum (local.get $m2)) (local.get $inv))))
      (local.set $c (i32.const 0))
      (block $d2 (loop $l2
        (br_if $d2 (i32.ge_u (local.get $c) (local.get $rb)))
        (local.set $xh (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $row) (local.get $c))) (local.get $mv)) (local.get $sv)))
        (v128.store (i32.add (i32.add (local.get $dx) (i32.mul (local.get $r) (local.get $rb))) (local.get $c))
          (f32x4.mul (local.get $sv) (f32x4.sub (f32x4.sub
            (f32x4.mul (v128.load (i32.add (local.get $grow) (local.get $c))) (v128.load (i32.add (local.get $g) (local.get $c))))
            (local.get $m1)) (f32x4.mul (local.get $xh) (local.get $m2)))))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $l2)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $lr))))
  ;; dw [din, dout] = xᵀ·g and db [dout] = column sums of g, for x [rows, din], g [rows, dout] (din % 4 == 0,
  ;; dout % 8 == 0): 4 x 8 blocks of dw in registers, rows in chunks of 64 so the chunk of g stays in cache.
  ;; Each element is one f32 sum in row order.
  (func (export "weightGrad") (param $x i32) (param $din i32) (param $g i32) (param $dout i32) (param $rows i32)
    (param $dw i32) (param $db i32)
    (local $r0 i32) (local $r1 i32) (local $r i32) (local $i i32) (local $j i32) (local $xp i32) (local $gp i32) (local $wp i32)
    (local $xb i32) (local $gb i32) (local $xv v128) (local $g0 v128) (local $g1 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local.set $xb (i32.shl (local.get $din) (i32.const 2)))
    (local.set $gb (i32.shl (local.get $dout) (i32.const 2)))
    (memory.fill (local.get $dw) (i32.const 0) (i32.mul (local.get $din) (local.get $gb)))
    (memory.fill (local.get $db) (i32.const 0) (local.get $gb))
    (block $dc (loop $lc
      (br_if $dc (i32.ge_u (local.get $r0) (local.get $rows)))
      (local.set $r1 (select (i32.add (local.get $r0) (i32.const 64)) (local.get $rows)
        (i32.lt_u (i32.add (local.get $r0) (i32.const 64)) (local.get $rows))))
      (local.set $j (i32.const 0))
      (block $dj (loop $lj
        (br_if $dj (i32.ge_u (local.get $j) (local.get $gb)))
        (local.set $a0 (v128.load (i32.add (local.get $db) (local.get $j))))
        (local.set $a1 (v128.load offset=16 (i32.add (local.get $db) (local.get $j))))
        (local.set $gp (i32.add (i32.add (local.get $g) (i32.mul (local.get $r0) (local.get $gb))) (local.get $j)))
        (local.set $r (local.get $r0))
        (block $dd (loop $ld
          (br_if $dd (i32.ge_u (local.get $r) (local.get $r1)))
          (local.set $a0 (f32x4.add (local.get $a0) (v128.load (local.get $gp))))
          (local.set $a1 (f32x4.add (local.get $a1) (v128.load offset=16 (local.get $gp))))
          (local.set $gp (i32.add (local.get $gp) (local.get $gb)))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (br $ld)))
        (v128.store (i32.add (local.get $db) (local.get $j)) (local.get $a0))
        (v128.store offset=16 (i32.add (local.get $db) (local.get $j)) (local.get $a1))
        (local.set $i (i32.const 0))
        (block $di (loop $li
          (br_if $di (i32.ge_u (local.get $i) (local.get $din)))
          (local.set $wp (i32.add (i32.add (local.get $dw) (i32.mul (local.get $i) (local.get $gb))) (local.get $j)))
          (local.set $a0 (v128.load (local.get $wp)))
          (local.set $a1 (v128.load offset=16 (local.get $wp)))
          (local.set $a2 (v128.load (i32.add (local.get $wp) (local.get $gb))))
          (local.set $a3 (v128.load offset=16 (i32.add (local.get $wp) (local.get $gb))))
          (local.set $a4 (v128.load (i32.add (local.get $wp) (i32.shl (local.get $gb) (i32.const 1)))))
          (local.set $a5 (v128.load offset=16 (i32.add (local.get $wp) (i32.shl (local.get $gb) (i32.const 1)))))
          (local.set $a6 (v128.load (i32.add (local.get $wp) (i32.mul (local.get $gb) (i32.const 3)))))
          (local.set $a7 (v128.load offset=16 (i32.add (local.get $wp) (i32.mul (local.get $gb) (i32.const 3)))))
          (local.set $xp (i32.add (i32.add (local.get $x) (i32.mul (local.get $r0) (local.get $xb))) (i32.shl (local.get $i) (i32.const 2))))
          (local.set $gp (i32.add (i32.add (local.get $g) (i32.mul (local.get $r0) (local.get $gb))) (local.get $j)))
          (local.set $r (local.get $r0))
          (block $dr (loop $lr
            (br_if $dr (i32.ge_u (local.get $r) (local.get $r1)))
            (local.set $xv (v128.load (local.get $xp)))
            (local.set $g0 (v128.load (local.get $gp)))
            (local.set $g1 (v128.load offset=16 (local.get $gp)))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $xv) (local.get $xv)) (local.get $g0))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $xv) (local.get $xv)) (local.get $g1))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $xv) (local.get $xv)) (local.get $g0))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $xv) (local.get $xv)) (local.get $g1))))
            (local.set $a4 (f32x4.add (local.get $a4) (f32x4.mul (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $xv) (local.get $xv)) (local.get $g0))))
            (local.set $a5 (f32x4.add (local.get $a5) (f32x4.mul (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $xv) (local.get $xv)) (local.get $g1))))
            (local.set $a6 (f32x4.add (local.get $a6) (f32x4.mul (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $xv) (local.get $xv)) (local.get $g0))))
            (local.set $a7 (f32x4.add (local.get $a7) (f32x4.mul (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $xv) (local.get $xv)) (local.get $g1))))
            (local.set $xp (i32.add (local.get $xp) (local.get $xb)))
            (local.set $gp (i32.add (local.get $gp) (local.get $gb)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $lr)))
          (v128.store (local.get $wp) (local.get $a0))
          (v128.store offset=16 (local.get $wp) (local.get $a1))
          (v128.store (i32.add (local.get $wp) (local.get $gb)) (local.get $a2))
          (v128.store offset=16 (i32.add (local.get $wp) (local.get $gb)) (local.get $a3))
          (v128.store (i32.add (local.get $wp) (i32.shl (local.get $gb) (i32.const 1))) (local.get $a4))
          (v128.store offset=16 (i32.add (local.get $wp) (i32.shl (local.get $gb) (i32.const 1))) (local.get $a5))
          (v128.store (i32.add (local.get $wp) (i32.mul (local.get $gb) (i32.const 3))) (local.get $a6))
          (v128.store offset=16 (i32.add (local.get $wp) (i32.mul (local.get $gb) (i32.const 3))) (local.get $a7))
          (local.set $i (i32.add (local.get $i) (i32.const 4)))
          (br $li)))
        (local.set $j (i32.add (local.get $j) (i32.const 32)))
        (br $lj)))
      (local.set $r0 (local.get $r1))
      (br $lc)))))
`

// The project's lib (ES2023, no DOM) has no WebAssembly types: the members used here.
declare const WebAssembly: {
  compile(bytes: Uint8Array): Promise<object>
  instantiate(module: object, imports: object): Promise<{ readonly exports: object }>
}

interface Kernels {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number }
  scores(q: number, qPitch: number, k: number, kPitch: number, s: number, sPitch: number, t: number, hd: number, scale: number): void
  pv(p: number, pPitch: number, x: number, xPitch: number, o: number, oPitch: number, t: number, hd: number): void
  ptv(p: number, pPitch: number, x: number, xPitch: number, o: number, oPitch: number, t: number, hd: number): void
  softmaxRows(s: number, sPitch: number, t: number): void
  softmaxGradRows(p: number, dp: number, sPitch: number, t: number, scale: number): void
  gelu(x: number, y: number, n: number): void
  geluGrad(x: number, dy: number, dx: number, n: number): void
  layerNorm(x: number, g: number, b: number, y: number, stats: number, rows: number, d: number): void
  layerNormGrad(x: number, dy: number, g: number, stats: number, dx: number, dg64: number, db64: number, rows: number, d: number): void
  weightGrad(x: number, din: number, g: number, dout: number, rows: number, dw: number, db: number): void
}

const compile = async (): Promise<Kernels> => {
  const wabt = await wabtInit()
  const mod = wabt.parseWat("attention.wat", WAT, { simd: true })
  try {
    const { buffer } = mod.toBinary({})
    const instance = await WebAssembly.instantiate(await WebAssembly.compile(buffer), {})
    return instance.exports as unknown as Kernels
  } finally {
    mod.destroy()
  }
}

const kernels: Kernels = await compile()

/** Whether these kernels apply (head size a multiple of the 4 SIMD lanes). */
export const wasmAttentionFits = (hd: number): boolean => hd % 4 === 0

/** Probability rows are padded to a multiple of 4 floats, so the softmax kernels work in whole f32x4 groups. */
const rowPitch = (t: number): number => (t + 3) & ~3

/** Room for the probabilities [B, H, T, rowPitch(T)] that the forward pass hands to the backward pass. */
export const attentionProbabilitiesWasm = (batch: number, heads: number, t: number): Float32Array =>
  new Float32Array(batch * heads * t * rowPitch(t))

/** Consecutive regions (byte offsets, 16-aligned) of the given float counts in the kernels' memory, grown on demand. */
const regions = <K extends string>(floats: Record<K, number>): { at: Record<K, number>; f32: Float32Array } => {
  const at = {} as Record<K, number>
  let end = 0
  for (const k in floats) {
    at[k] = end
    end += Math.ceil(floats[k] / 4) * 16
  }
  const have = kernels.memory.buffer.byteLength
  if (end > have) kernels.memory.grow(Math.ceil((end - have) / 65536))
  return { at, f32: new Float32Array(kernels.memory.buffer) }
}

/** Forward: out [B·T, d] from fused qkv [B·T, 3d]; p receives the probabilities (attentionProbabilitiesWasm). */
export const attentionForwardWasm = (
  x: Float32Array, out: Float32Array, p: Float32Array, batch: number, t: number, heads: number, d3: number
): void => {
  const d = d3 / 3, hd = d / heads, tp = rowPitch(t), tile = t * tp
  const { at, f32 } = regions({ x: x.length, out: out.length, p: p.length })
  f32.set(x, at.x / 4)
  for (let b = 0; b < batch; b++) {
    const xb = at.x + b * t * d3 * 4
    for (let h = 0; h < heads; h++) {
      const s = at.p + (b * heads + h) * tile * 4
      kernels.scores(xb + h * hd * 4, d3 * 4, xb + (d + h * hd) * 4, d3 * 4, s, tp * 4, t, hd, 1 / Math.sqrt(hd))
      kernels.softmaxRows(s, tp * 4, t)
      kernels.pv(s, tp * 4, xb + (2 * d + h * hd) * 4, d3 * 4, at.out + (b * t * d + h * hd) * 4, d * 4, t, hd)
    }
  }
  out.set(f32.subarray(at.out / 4, at.out / 4 + out.length))
  p.set(f32.subarray(at.p / 4, at.p / 4 + p.length))
}

/** Backward: dx [B·T, 3d] (dq | dk | dv) from dOut g [B·T, d] and the forward's probabilities. */
export const attentionBackwardWasm = (
  x: Float32Array, g: Float32Array, p: Float32Array, dx: Float32Array, batch: number, t: number, heads: number, d3: number
): void => {
  const d = d3 / 3, hd = d / heads, tp = rowPitch(t), tile = t * tp
  const { at, f32 } = regions({ x: x.length, g: g.length, p: p.length, dx: dx.length, ds: tile })
  f32.set(x, at.x / 4)
  f32.set(g, at.g / 4)
  f32.set(p, at.p / 4)
  for (let b = 0; b < batch; b++) {
    const xb = at.x + b * t * d3 * 4, gb = at.g + b * t * d * 4, db = at.dx + b * t * d3 * 4
    for (let h = 0; h < heads; h++) {
      const s = at.p + (b * heads + h) * tile * 4
      const q = xb + h * hd * 4, k = xb + (d + h * hd) * 4, v = xb + (2 * d + h * hd) * 4, go = gb + h * hd * 4
      kernels.ptv(s, tp * 4, go, d * 4, db + (2 * d + h * hd) * 4, d3 * 4, t, hd) // dV = Pᵀ·dOut
      kernels.scores(go, d * 4, v, d3 * 4, at.ds, tp * 4, t, hd, 1) // dP = dOut·Vᵀ (causal half)
      kernels.softmaxGradRows(s, at.ds, tp * 4, t, 1 / Math.sqrt(hd)) // dS
      kernels.pv(at.ds, tp * 4, k, d3 * 4, db + h * hd * 4, d3 * 4, t, hd) // dQ = dS·K
      kernels.ptv(at.ds, tp * 4, q, d3 * 4, db + (d + h * hd) * 4, d3 * 4, t, hd) // dK = dSᵀ·Q
    }
  }
  dx.set(f32.subarray(at.dx / 4, at.dx / 4 + dx.length))
}

/** y = GELU(x) (tanh form, gelu.ts's rational tanh in f32); x.length % 4 == 0. */
export const geluForwardWasm = (x: Float32Array, y: Float32Array): void => {
  const { at, f32 } = regions({ x: x.length, y: y.length })
  f32.set(x, at.x / 4)
  kernels.gelu(at.x, at.y, x.length)
  y.set(f32.subarray(at.y / 4, at.y / 4 + y.length))
}

/** dx = dy · GELU'(x). */
export const geluBackwardWasm = (x: Float32Array, dy: Float32Array, dx: Float32Array): void => {
  const { at, f32 } = regions({ x: x.length, dy: dy.length, dx: dx.length })
  f32.set(x, at.x / 4)
  f32.set(dy, at.dy / 4)
  kernels.geluGrad(at.x, at.dy, at.dx, x.length)
  dx.set(f32.subarray(at.dx / 4, at.dx / 4 + dx.length))
}

/** Whether the LayerNorm kernels apply (row width a multiple of the 4 SIMD lanes). */
export const wasmLayerNormFits = (d: number): boolean => d % 4 === 0

/** LayerNorm (eps 1e-5) of the rows of x [rows, d]; stats [rows, 2] receives each row's mean and 1/std. */
export const layerNormForwardWasm = (
  x: Float32Array, g: Float32Array, b: Float32Array, y: Float32Array, stats: Float32Array, rows: number, d: number
): void => {
  const { at, f32 } = regions({ x: x.length, g: d, b: d, y: y.length, stats: 2 * rows })
  f32.set(x, at.x / 4)
  f32.set(g, at.g / 4)
  f32.set(b, at.b / 4)
  kernels.layerNorm(at.x, at.g, at.b, at.y, at.stats, rows, d)
  y.set(f32.subarray(at.y / 4, at.y / 4 + y.length))
  stats.set(f32.subarray(at.stats / 4, at.stats / 4 + 2 * rows))
}

/** LayerNorm gradient: dx, and dg / db summed over the rows in float64. */
export const layerNormBackwardWasm = (
  x: Float32Array, dy: Float32Array, g: Float32Array, stats: Float32Array,
  dx: Float32Array, dg: Float32Array, db: Float32Array, rows: number, d: number
): void => {
  const { at, f32 } = regions({ x: x.length, dy: dy.length, g: d, stats: 2 * rows, dx: dx.length, dg64: 2 * d, db64: 2 * d })
  f32.set(x, at.x / 4)
  f32.set(dy, at.dy / 4)
  f32.set(g, at.g / 4)
  f32.set(stats, at.stats / 4)
  f32.fill(0, at.dg64 / 4, at.db64 / 4 + 2 * d)
  kernels.layerNormGrad(at.x, at.dy, at.g, at.stats, at.dx, at.dg64, at.db64, rows, d)
  dx.set(f32.subarray(at.dx / 4, at.dx / 4 + dx.length))
  const f64 = new Float64Array(kernels.memory.buffer)
  for (let c = 0; c < d; c++) {
    dg[c] = f64[at.dg64 / 8 + c]
    db[c] = f64[at.db64 / 8 + c]
  }
}

/** Whether weightGradWasm applies: input width a multiple of 4, output width a multiple of 8. */
export const wasmWeightGradFits = (din: number, dout: number): boolean => din % 4 === 0 && dout % 8 === 0

/**
 * A dense layer's parameter gradients: dw [din, dout] = xᵀ·g and db = column sums of g, for x [rows, din] and
 * g [rows, dout]. Replaces a transpose and an XNNPACK product whose fresh right operand it must repack every call.
 */
export const weightGradWasm = (x: Float32Array, g: Float32Array, dw: Float32Array, db: Float32Array, rows: number): void => {
  const din = x.length / rows, dout = g.length / rows
  const { at, f32 } = regions({ x: x.length, g: g.length, dw: din * dout, db: dout })
  f32.set(x, at.x / 4)
  f32.set(g, at.g / 4)
  kernels.weightGrad(at.x, din, at.g, dout, rows, at.dw, at.db)
  dw.set(f32.subarray(at.dw / 4, at.dw / 4 + dw.length))
  db.set(f32.subarray(at.db / 4, at.db / 4 + dout))
}
