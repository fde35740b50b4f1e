;; The transformer decoder's kernels (transformer-decoder.ts, through decode-kernel.ts), one part of the module
;; decode-kernel.ts assembles: its memory is imported; exp-v8.wat ($exp, Math.exp's bits), gelu.wat (the training's
;; GELU) and affine.wat are the other parts. One instance per decoder, whose memory holds that decoder's residual stream and key/value caches,
;; so a step copies in only what TF.js's matrix products hand back.
;; Float64 throughout where the JavaScript they replaced was (kept as the reference in test/decode-wasm.test.ts), in
;; its order, with its exp: the same bits, so sampling's outputs do not change.
;; Two f32 are read as f64x2 by v128.load64_zero and f64x2.promote_low_f32x4, written out at each use (a call per
;; pair, not inlined, cost a third of the time). f64x2 lanes only ever hold independent sums (d0|d1 and d2|d3 of
;; the dot product; two output columns of P·V).

;; One query q (byte address) over cached keys/values at kc/vc + j·pitch bytes, j = 0..last: the softmax weights
;; in `scores` (f64), the result at `out` [hd] (f32). `qf` is room for the query in f64 [hd], promoted once.
(func $head (param $q i32) (param $kc i32) (param $vc i32) (param $pitch i32) (param $last i32) (param $hd i32)
  (param $scale f64) (param $scores i32) (param $out i32) (param $qf i32)
  (local $j i32) (local $k i32) (local $ko i32) (local $a v128) (local $b v128) (local $d0 f64) (local $sc f64)
  (local $max f64) (local $sum f64) (local $e f64) (local $vo i32) (local $acc f64) (local $c v128) (local $e4 v128)
  (local $s2 v128)
  (local.set $max (f64.const -inf))
  (local.set $k (i32.const 0))
  (block $dp (loop $lp
    (br_if $dp (i32.ge_s (local.get $k) (local.get $hd)))
    (f64.store (i32.add (local.get $qf) (i32.shl (local.get $k) (i32.const 3)))
      (f64.promote_f32 (f32.load (i32.add (local.get $q) (i32.shl (local.get $k) (i32.const 2))))))
    (local.set $k (i32.add (local.get $k) (i32.const 1)))
    (br $lp)))
  ;; scores
  (local.set $j (i32.const 0))
  (block $dj (loop $lj
    (br_if $dj (i32.gt_s (local.get $j) (local.get $last)))
    (local.set $ko (i32.add (local.get $kc) (i32.mul (local.get $j) (local.get $pitch))))
    (local.set $a (v128.const f64x2 0 0))
    (local.set $b (v128.const f64x2 0 0))
    (local.set $k (i32.const 0))
    (block $dk (loop $lk
      (br_if $dk (i32.ge_s (i32.add (local.get $k) (i32.const 3)) (local.get $hd)))
      (local.set $a (f64x2.add (local.get $a) (f64x2.mul
        (v128.load (i32.add (local.get $qf) (i32.shl (local.get $k) (i32.const 3))))
        (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $ko) (i32.shl (local.get $k) (i32.const 2))))))))
      (local.set $b (f64x2.add (local.get $b) (f64x2.mul
        (v128.load offset=16 (i32.add (local.get $qf) (i32.shl (local.get $k) (i32.const 3))))
        (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $ko) (i32.shl (i32.add (local.get $k) (i32.const 2)) (i32.const 2))))))))
      (local.set $k (i32.add (local.get $k) (i32.const 4)))
      (br $lk)))
    (local.set $d0 (f64x2.extract_lane 0 (local.get $a)))
    (block $dr (loop $lr
      (br_if $dr (i32.ge_s (local.get $k) (local.get $hd)))
      (local.set $d0 (f64.add (local.get $d0) (f64.mul
        (f64.load (i32.add (local.get $qf) (i32.shl (local.get $k) (i32.const 3))))
        (f64.promote_f32 (f32.load (i32.add (local.get $ko) (i32.shl (local.get $k) (i32.const 2))))))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $lr)))
    ;; (d0 + d1 + (d2 + d3)) * scale
    (local.set $sc (f64.mul
      (f64.add
        (f64.add (local.get $d0) (f64x2.extract_lane 1 (local.get $a)))
        (f64.add (f64x2.extract_lane 0 (local.get $b)) (f64x2.extract_lane 1 (local.get $b))))
      (local.get $scale)))
    (f64.store (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 3))) (local.get $sc))
    (if (f64.gt (local.get $sc) (local.get $max)) (then (local.set $max (local.get $sc))))
    (local.set $j (i32.add (local.get $j) (i32.const 1)))
    (br $lj)))
  ;; softmax
  (local.set $sum (f64.const 0))
  (local.set $j (i32.const 0))
  (block $de (loop $le
    (br_if $de (i32.gt_s (local.get $j) (local.get $last)))
    (local.set $e (call $exp (f64.sub
      (f64.load (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 3))))
      (local.get $max))))
    (f64.store (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 3))) (local.get $e))
    (local.set $sum (f64.add (local.get $sum) (local.get $e)))
    (local.set $j (i32.add (local.get $j) (i32.const 1)))
    (br $le)))
  (local.set $j (i32.const 0))
  (block $dn (loop $ln
    (br_if $dn (i32.gt_s (local.get $j) (local.get $last)))
    (f64.store (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 3)))
      (f64.div (f64.load (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 3)))) (local.get $sum)))
    (local.set $j (i32.add (local.get $j) (i32.const 1)))
    (br $ln)))
  ;; out[k] = sum over j of scores[j] * v[j][k], eight columns at a time (four f64x2 sums, one pass over j), then
  ;; two, then an odd one; each column's sum runs over j in order, as the JavaScript's did
  (local.set $k (i32.const 0))
  (block $d8 (loop $l8
    (br_if $d8 (i32.gt_s (i32.add (local.get $k) (i32.const 8)) (local.get $hd)))
    (local.set $a (v128.const f64x2 0 0))
    (local.set $b (v128.const f64x2 0 0))
    (local.set $c (v128.const f64x2 0 0))
    (local.set $e4 (v128.const f64x2 0 0))
    (local.set $vo (i32.add (local.get $vc) (i32.shl (local.get $k) (i32.const 2))))
    (local.set $j (i32.const 0))
    (block $dv8 (loop $lv8
      (br_if $dv8 (i32.gt_s (local.get $j) (local.get $last)))
      (local.set $s2 (f64x2.splat (f64.load (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 3))))))
      (local.set $a (f64x2.add (local.get $a)
        (f64x2.mul (local.get $s2) (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $vo))))))
      (local.set $b (f64x2.add (local.get $b)
        (f64x2.mul (local.get $s2) (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $vo))))))
      (local.set $c (f64x2.add (local.get $c)
        (f64x2.mul (local.get $s2) (f64x2.promote_low_f32x4 (v128.load64_zero offset=16 (local.get $vo))))))
      (local.set $e4 (f64x2.add (local.get $e4)
        (f64x2.mul (local.get $s2) (f64x2.promote_low_f32x4 (v128.load64_zero offset=24 (local.get $vo))))))
      (local.set $vo (i32.add (local.get $vo) (local.get $pitch)))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $lv8)))
    (local.set $vo (i32.add (local.get $out) (i32.shl (local.get $k) (i32.const 2))))
    (v128.store64_lane 0 (local.get $vo) (f32x4.demote_f64x2_zero (local.get $a)))
    (v128.store64_lane offset=8 0 (local.get $vo) (f32x4.demote_f64x2_zero (local.get $b)))
    (v128.store64_lane offset=16 0 (local.get $vo) (f32x4.demote_f64x2_zero (local.get $c)))
    (v128.store64_lane offset=24 0 (local.get $vo) (f32x4.demote_f64x2_zero (local.get $e4)))
    (local.set $k (i32.add (local.get $k) (i32.const 8)))
    (br $l8)))
  (block $dc (loop $lc
    (br_if $dc (i32.ge_s (i32.add (local.get $k) (i32.const 1)) (local.get $hd)))
    (local.set $a (v128.const f64x2 0 0))
    (local.set $vo (i32.add (local.get $vc) (i32.shl (local.get $k) (i32.const 2))))
    (local.set $j (i32.const 0))
    (block $dv (loop $lv
      (br_if $dv (i32.gt_s (local.get $j) (local.get $last)))
      (local.set $a (f64x2.add (local.get $a) (f64x2.mul
        (f64x2.splat (f64.load (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 3)))))
        (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $vo))))))
      (local.set $vo (i32.add (local.get $vo) (local.get $pitch)))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $lv)))
    (v128.store64_lane 0 (i32.add (local.get $out) (i32.shl (local.get $k) (i32.const 2)))
      (f32x4.demote_f64x2_zero (local.get $a)))
    (local.set $k (i32.add (local.get $k) (i32.const 2)))
    (br $lc)))
  ;; an odd head size's last column
  (if (i32.lt_s (local.get $k) (local.get $hd)) (then
    (local.set $acc (f64.const 0))
    (local.set $vo (i32.add (local.get $vc) (i32.shl (local.get $k) (i32.const 2))))
    (local.set $j (i32.const 0))
    (block $dv1 (loop $lv1
      (br_if $dv1 (i32.gt_s (local.get $j) (local.get $last)))
      (local.set $acc (f64.add (local.get $acc) (f64.mul
        (f64.load (i32.add (local.get $scores) (i32.shl (local.get $j) (i32.const 3))))
        (f64.promote_f32 (f32.load (local.get $vo))))))
      (local.set $vo (i32.add (local.get $vo) (local.get $pitch)))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $lv1)))
    (f32.store (i32.add (local.get $out) (i32.shl (local.get $k) (i32.const 2))) (f32.demote_f64 (local.get $acc))))))

;; One layer's attention for `count` rows, each taking `n` new positions: row i is cache row which[i], whose
;; first new position is lens[i]. The new positions' keys and values (from qkv [count·n, 3d]) go into the caches
;; kc, vc [rows, T, d] first; then each new position attends, head by head, over its row's cache up to itself,
;; into att [count·n, d]. Addresses in bytes; which, lens: i32 arrays; qf: room for one head's query in f64.
(func (export "attend") (param $qkv i32) (param $kc i32) (param $vc i32) (param $att i32) (param $scores i32)
  (param $which i32) (param $lens i32) (param $count i32) (param $n i32) (param $heads i32) (param $d i32)
  (param $t i32) (param $scale f64) (param $qf i32)
  (local $i i32) (local $s i32) (local $h i32) (local $r i32) (local $len i32) (local $hd i32) (local $src i32)
  (local $dst i32) (local $rowBytes i32) (local $base i32) (local $pos i32)
  (local.set $hd (i32.div_u (local.get $d) (local.get $heads)))
  (local.set $rowBytes (i32.shl (local.get $d) (i32.const 2)))
  (local.set $i (i32.const 0))
  (block $di (loop $li
    (br_if $di (i32.ge_u (local.get $i) (local.get $count)))
    (local.set $r (i32.load (i32.add (local.get $which) (i32.shl (local.get $i) (i32.const 2)))))
    (local.set $len (i32.load (i32.add (local.get $lens) (i32.shl (local.get $i) (i32.const 2)))))
    ;; the new keys and values into the caches
    (local.set $s (i32.const 0))
    (block $ds (loop $ls
      (br_if $ds (i32.ge_u (local.get $s) (local.get $n)))
      (local.set $pos (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $s)))
      (local.set $src (i32.add (local.get $qkv) (i32.mul (local.get $pos) (i32.mul (local.get $rowBytes) (i32.const 3)))))
      (local.set $dst (i32.mul
        (i32.add (i32.mul (local.get $r) (local.get $t)) (i32.add (local.get $len) (local.get $s)))
        (local.get $rowBytes)))
      (memory.copy (i32.add (local.get $kc) (local.get $dst)) (i32.add (local.get $src) (local.get $rowBytes))
        (local.get $rowBytes))
      (memory.copy (i32.add (local.get $vc) (local.get $dst))
        (i32.add (local.get $src) (i32.shl (local.get $rowBytes) (i32.const 1))) (local.get $rowBytes))
      (local.set $s (i32.add (local.get $s) (i32.const 1)))
      (br $ls)))
    ;; each new position, each head
    (local.set $base (i32.mul (i32.mul (local.get $r) (local.get $t)) (local.get $rowBytes)))
    (local.set $s (i32.const 0))
    (block $da (loop $la
      (br_if $da (i32.ge_u (local.get $s) (local.get $n)))
      (local.set $pos (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $s)))
      (local.set $h (i32.const 0))
      (block $dh (loop $lh
        (br_if $dh (i32.ge_u (local.get $h) (local.get $heads)))
        (call $head
          (i32.add
            (i32.add (local.get $qkv) (i32.mul (local.get $pos) (i32.mul (local.get $rowBytes) (i32.const 3))))
            (i32.shl (i32.mul (local.get $h) (local.get $hd)) (i32.const 2)))
          (i32.add (i32.add (local.get $kc) (local.get $base)) (i32.shl (i32.mul (local.get $h) (local.get $hd)) (i32.const 2)))
          (i32.add (i32.add (local.get $vc) (local.get $base)) (i32.shl (i32.mul (local.get $h) (local.get $hd)) (i32.const 2)))
          (local.get $rowBytes)
          (i32.add (local.get $len) (local.get $s))
          (local.get $hd)
          (local.get $scale)
          (local.get $scores)
          (i32.add
            (i32.add (local.get $att) (i32.mul (local.get $pos) (local.get $rowBytes)))
            (i32.shl (i32.mul (local.get $h) (local.get $hd)) (i32.const 2)))
          (local.get $qf))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br $lh)))
      (local.set $s (i32.add (local.get $s) (i32.const 1)))
      (br $la)))
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (br $li))))

;; LayerNorm of m rows of d (eps 1e-5), as the decoder's JavaScript did: the mean and variance of each f32 row in
;; float64, y = ((x - mean) · s) · g + b in float64, rounded to f32.
(func (export "layer_norm") (param $x i32) (param $g i32) (param $b i32) (param $y i32) (param $m i32) (param $d i32)
  (local $r i32) (local $k i32) (local $o i32) (local $mean f64) (local $v f64) (local $t f64) (local $s f64)
  (local $df f64) (local $at i32)
  (local.set $df (f64.convert_i32_u (local.get $d)))
  (block $dr (loop $lr
    (br_if $dr (i32.ge_u (local.get $r) (local.get $m)))
    (local.set $o (i32.shl (i32.mul (local.get $r) (local.get $d)) (i32.const 2)))
    (local.set $mean (f64.const 0))
    (local.set $k (i32.const 0))
    (block $d1 (loop $l1
      (br_if $d1 (i32.ge_u (local.get $k) (local.get $d)))
      (local.set $mean (f64.add (local.get $mean)
        (f64.promote_f32 (f32.load (i32.add (local.get $x) (i32.add (local.get $o) (i32.shl (local.get $k) (i32.const 2))))))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $l1)))
    (local.set $mean (f64.div (local.get $mean) (local.get $df)))
    (local.set $v (f64.const 0))
    (local.set $k (i32.const 0))
    (block $d2 (loop $l2
      (br_if $d2 (i32.ge_u (local.get $k) (local.get $d)))
      (local.set $t (f64.sub
        (f64.promote_f32 (f32.load (i32.add (local.get $x) (i32.add (local.get $o) (i32.shl (local.get $k) (i32.const 2))))))
        (local.get $mean)))
      (local.set $v (f64.add (local.get $v) (f64.mul (local.get $t) (local.get $t))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $l2)))
    (local.set $s (f64.div (f64.const 1)
      (f64.sqrt (f64.add (f64.div (local.get $v) (local.get $df)) (f64.const 1e-5)))))
    (local.set $k (i32.const 0))
    (block $d3 (loop $l3
      (br_if $d3 (i32.ge_u (local.get $k) (local.get $d)))
      (local.set $at (i32.add (local.get $o) (i32.shl (local.get $k) (i32.const 2))))
      (f32.store (i32.add (local.get $y) (local.get $at)) (f32.demote_f64 (f64.add
        (f64.mul
          (f64.mul
            (f64.sub (f64.promote_f32 (f32.load (i32.add (local.get $x) (local.get $at)))) (local.get $mean))
            (local.get $s))
          (f64.promote_f32 (f32.load (i32.add (local.get $g) (i32.shl (local.get $k) (i32.const 2))))))
        (f64.promote_f32 (f32.load (i32.add (local.get $b) (i32.shl (local.get $k) (i32.const 2))))))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $l3)))
    (local.set $r (i32.add (local.get $r) (i32.const 1)))
    (br $lr))))

;; x[i] += y[i] over n floats: f32 addition, as a Float32Array's `+=` rounds (the f64 sum of two f32 is exact).
(func (export "add_into") (param $x i32) (param $y i32) (param $n i32) (local $o i32) (local $end i32)
  (local.set $end (i32.shl (local.get $n) (i32.const 2)))
  (block $d (loop $l
    (br_if $d (i32.gt_u (i32.add (local.get $o) (i32.const 16)) (local.get $end)))
    (v128.store (i32.add (local.get $x) (local.get $o))
      (f32x4.add (v128.load (i32.add (local.get $x) (local.get $o))) (v128.load (i32.add (local.get $y) (local.get $o)))))
    (local.set $o (i32.add (local.get $o) (i32.const 16)))
    (br $l)))
  (block $dt (loop $lt
    (br_if $dt (i32.ge_u (local.get $o) (local.get $end)))
    (f32.store (i32.add (local.get $x) (local.get $o))
      (f32.add (f32.load (i32.add (local.get $x) (local.get $o))) (f32.load (i32.add (local.get $y) (local.get $o)))))
    (local.set $o (i32.add (local.get $o) (i32.const 4)))
    (br $lt))))
