;; One part of the wasm module that decode-kernel.ts assembles: Math.exp as V8 computes it (src/base/ieee754.cc,
;; fdlibm's __ieee754_exp, with V8's exp(1) = E), operation for operation in f64, so it returns Math.exp's bits
;; (test/exp-v8.test.ts checks millions of arguments) without a call out of wasm for every attention score.
;; Range reduction x = k·ln2 + r (ln2 in a high and a low part), a rational approximation of e^r, then 2^k.
(func $exp (param $x f64) (result f64)
  (local $bits i64) (local $hx i32) (local $xsb i32) (local $k i32) (local $hi f64) (local $lo f64) (local $t f64)
  (local $c f64) (local $y f64) (local $twopk f64)
  (local.set $bits (i64.reinterpret_f64 (local.get $x)))
  (local.set $hx (i32.wrap_i64 (i64.shr_u (local.get $bits) (i64.const 32))))
  (local.set $xsb (i32.shr_u (local.get $hx) (i32.const 31)))
  (local.set $hx (i32.and (local.get $hx) (i32.const 0x7fffffff)))
  ;; |x| >= 709.78: NaN, infinities, overflow, underflow
  (if (i32.ge_u (local.get $hx) (i32.const 0x40862e42)) (then
    (if (i32.ge_u (local.get $hx) (i32.const 0x7ff00000)) (then
      (if (i32.or (i32.and (local.get $hx) (i32.const 0xfffff)) (i32.wrap_i64 (local.get $bits)))
        (then (return (f64.add (local.get $x) (local.get $x)))))
      (return (select (local.get $x) (f64.const 0) (i32.eqz (local.get $xsb))))))
    (if (f64.gt (local.get $x) (f64.const 7.09782712893383973096e+02))
      (then (return (f64.mul (f64.const 1.0e+300) (f64.const 1.0e+300)))))
    (if (f64.lt (local.get $x) (f64.const -7.45133219101941108420e+02))
      (then (return (f64.mul (f64.const 9.33263618503218878990e-302) (f64.const 9.33263618503218878990e-302)))))))
  (if (i32.gt_u (local.get $hx) (i32.const 0x3fd62e42))
    (then
      (if (i32.lt_u (local.get $hx) (i32.const 0x3ff0a2b2))
        (then
          (if (f64.eq (local.get $x) (f64.const 1)) (then (return (f64.const 2.718281828459045))))
          (if (local.get $xsb)
            (then
              (local.set $hi (f64.sub (local.get $x) (f64.const -6.93147180369123816490e-01)))
              (local.set $lo (f64.const -1.90821492927058770002e-10)))
            (else
              (local.set $hi (f64.sub (local.get $x) (f64.const 6.93147180369123816490e-01)))
              (local.set $lo (f64.const 1.90821492927058770002e-10))))
          (local.set $k (i32.sub (i32.const 1) (i32.shl (local.get $xsb) (i32.const 1)))))
        (else
          (local.set $k (i32.trunc_f64_s (f64.add
            (f64.mul (f64.const 1.44269504088896338700e+00) (local.get $x))
            (select (f64.const -0.5) (f64.const 0.5) (local.get $xsb)))))
          (local.set $t (f64.convert_i32_s (local.get $k)))
          (local.set $hi (f64.sub (local.get $x) (f64.mul (local.get $t) (f64.const 6.93147180369123816490e-01))))
          (local.set $lo (f64.mul (local.get $t) (f64.const 1.90821492927058770002e-10)))))
      (local.set $x (f64.sub (local.get $hi) (local.get $lo))))
    (else
      ;; |x| < 2^-28
      (if (i32.lt_u (local.get $hx) (i32.const 0x3e300000)) (then (return (f64.add (f64.const 1) (local.get $x)))))))
  (local.set $t (f64.mul (local.get $x) (local.get $x)))
  (local.set $twopk (f64.reinterpret_i64 (i64.shl
    (i64.extend_i32_u (i32.add (i32.const 0x3ff00000) (i32.shl
      (select (local.get $k) (i32.add (local.get $k) (i32.const 1000)) (i32.ge_s (local.get $k) (i32.const -1021)))
      (i32.const 20))))
    (i64.const 32))))
  (local.set $c (f64.sub (local.get $x) (f64.mul (local.get $t)
    (f64.add (f64.const 1.66666666666666019037e-01) (f64.mul (local.get $t)
      (f64.add (f64.const -2.77777777770155933842e-03) (f64.mul (local.get $t)
        (f64.add (f64.const 6.61375632143793436117e-05) (f64.mul (local.get $t)
          (f64.add (f64.const -1.65339022054652515390e-06) (f64.mul (local.get $t)
            (f64.const 4.13813679705723846039e-08))))))))))))
  (if (i32.eqz (local.get $k)) (then
    (return (f64.sub (f64.const 1) (f64.sub
      (f64.div (f64.mul (local.get $x) (local.get $c)) (f64.sub (local.get $c) (f64.const 2)))
      (local.get $x))))))
  (local.set $y (f64.sub (f64.const 1) (f64.sub
    (f64.sub (local.get $lo) (f64.div (f64.mul (local.get $x) (local.get $c)) (f64.sub (f64.const 2) (local.get $c))))
    (local.get $hi))))
  (if (i32.ge_s (local.get $k) (i32.const -1021)) (then
    (if (i32.eq (local.get $k) (i32.const 1024))
      (then (return (f64.mul (f64.mul (local.get $y) (f64.const 2)) (f64.const 8.988465674311579539e307)))))
    (return (f64.mul (local.get $y) (local.get $twopk)))))
  (f64.mul (f64.mul (local.get $y) (local.get $twopk)) (f64.const 9.33263618503218878990e-302)))
