;; One part of the wasm module that simd-kernels.ts assembles (the module and its memory are declared there).
;; Causal attention over (batch row, head) tiles addressed in place by row pitches (in bytes): scores, softmax
;; and its gradient (with a polynomial exp), and the products with V. $sum is used by layer-norm.wat too.

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
