;; Histogram kernels of the boosting grower (histograms.ts: scanRows, scanSums, addSparse), over the
;; arena's shared memory (arena.ts). Every address is a byte offset into that memory. A bin holds
;; three float64 channels (gradient, hessian, count: 24 bytes); a row's gradient pair is two
;; float32 (8 bytes), added to a bin's first two channels as one f64x2. Each bin gets its rows in
;; row order, the adds of the JavaScript kernels: the same sums, bit for bit.
(module
  (import "env" "memory" (memory 1 32768 shared))

  ;; Rows idx[start .. end) (int32 row numbers at $idx) added to their bins of the dense columns
  ;; [c0, c0 + m) of the row-major bins at $bins ($p columns a row): column c0 + k's bin b of a row
  ;; adds to the bin at $hist + colOff[k] + 24 b (colOff: int32 at $colOff, for columns c0 ..).
  ;; Without $counted the count channel is left alone. With $sparse, each row's sparse bins too (see
  ;; $sparseRow; $ptr and $entry as there). Two rows a step: their updates are independent, which
  ;; hides the latency of a chain of updates of one bin.
  (func (export "dense")
    (param $hist i32) (param $bins i32) (param $p i32) (param $c0 i32) (param $m i32) (param $colOff i32)
    (param $idx i32) (param $gh i32) (param $start i32) (param $end i32) (param $counted i32)
    (param $sparse i32) (param $ptr i32) (param $entry i32)
    (local $r i32) (local $q i32) (local $rb i32) (local $qb i32) (local $k i32) (local $col i32) (local $o i32)
    (local $v v128) (local $w v128) (local $ip i32) (local $ie i32)
    (local.set $ip (i32.add (local.get $idx) (i32.shl (local.get $start) (i32.const 2))))
    (local.set $ie (i32.add (local.get $idx) (i32.shl (local.get $end) (i32.const 2))))
    ;; An odd row first, so that the loop takes pairs up to the end.
    (if (i32.and (i32.sub (local.get $end) (local.get $start)) (i32.const 1))
      (then
        (local.set $r (i32.load (local.get $ip)))
        (local.set $v (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $gh) (i32.shl (local.get $r) (i32.const 3))))))
        (local.set $rb (i32.add (local.get $bins) (i32.add (i32.mul (local.get $r) (local.get $p)) (local.get $c0))))
        (local.set $k (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $k) (local.get $m)))
            (local.set $o
              (i32.add
                (i32.add (local.get $hist) (i32.load (i32.add (local.get $colOff) (i32.shl (local.get $k) (i32.const 2)))))
                (i32.mul (i32.load8_u (i32.add (local.get $rb) (local.get $k))) (i32.const 24))))
            (v128.store (local.get $o) (f64x2.add (v128.load (local.get $o)) (local.get $v)))
            (if (local.get $counted)
              (then (f64.store offset=16 (local.get $o) (f64.add (f64.load offset=16 (local.get $o)) (f64.const 1)))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $cols)))
        (if (local.get $sparse) (then (call $sparseRow (local.get $hist) (local.get $ptr) (local.get $entry) (local.get $r) (local.get $v))))
        (local.set $ip (i32.add (local.get $ip) (i32.const 4)))))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $ip) (local.get $ie)))
        (local.set $r (i32.load (local.get $ip)))
        (local.set $q (i32.load offset=4 (local.get $ip)))
        (local.set $v (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $gh) (i32.shl (local.get $r) (i32.const 3))))))
        (local.set $w (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $gh) (i32.shl (local.get $q) (i32.const 3))))))
        (local.set $rb (i32.add (local.get $bins) (i32.add (i32.mul (local.get $r) (local.get $p)) (local.get $c0))))
        (local.set $qb (i32.add (local.get $bins) (i32.add (i32.mul (local.get $q) (local.get $p)) (local.get $c0))))
        (local.set $k (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $k) (local.get $m)))
            (local.set $col (i32.add (local.get $hist) (i32.load (i32.add (local.get $colOff) (i32.shl (local.get $k) (i32.const 2))))))
            (local.set $o (i32.add (local.get $col) (i32.mul (i32.load8_u (i32.add (local.get $rb) (local.get $k))) (i32.const 24))))
            (v128.store (local.get $o) (f64x2.add (v128.load (local.get $o)) (local.get $v)))
            (if (local.get $counted)
              (then (f64.store offset=16 (local.get $o) (f64.add (f64.load offset=16 (local.get $o)) (f64.const 1)))))
            (local.set $o (i32.add (local.get $col) (i32.mul (i32.load8_u (i32.add (local.get $qb) (local.get $k))) (i32.const 24))))
            (v128.store (local.get $o) (f64x2.add (v128.load (local.get $o)) (local.get $w)))
            (if (local.get $counted)
              (then (f64.store offset=16 (local.get $o) (f64.add (f64.load offset=16 (local.get $o)) (f64.const 1)))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $cols)))
        (if (local.get $sparse)
          (then
            (call $sparseRow (local.get $hist) (local.get $ptr) (local.get $entry) (local.get $r) (local.get $v))
            (call $sparseRow (local.get $hist) (local.get $ptr) (local.get $entry) (local.get $q) (local.get $w))))
        (local.set $ip (i32.add (local.get $ip) (i32.const 8)))
        (br $rows))))

;; Row r's sparse bins, all three channels, its gradient pair $v added: its entries
  ;; entry[ptr[r] .. ptr[r + 1]) (int32 at $ptr and $entry), each a bin's offset from $hist in float64s.
  (func $sparseRow (param $hist i32) (param $ptr i32) (param $entry i32) (param $r i32) (param $v v128)
    (local $e i32) (local $e1 i32) (local $o i32)
    (local.set $e (i32.add (local.get $entry) (i32.shl (i32.load (i32.add (local.get $ptr) (i32.shl (local.get $r) (i32.const 2)))) (i32.const 2))))
    (local.set $e1 (i32.add (local.get $entry) (i32.shl (i32.load offset=4 (i32.add (local.get $ptr) (i32.shl (local.get $r) (i32.const 2)))) (i32.const 2))))
    (block $done
      (loop $entries
        (br_if $done (i32.ge_u (local.get $e) (local.get $e1)))
        (local.set $o (i32.add (local.get $hist) (i32.shl (i32.load (local.get $e)) (i32.const 3))))
        (v128.store (local.get $o) (f64x2.add (v128.load (local.get $o)) (local.get $v)))
        (f64.store offset=16 (local.get $o) (f64.add (f64.load offset=16 (local.get $o)) (f64.const 1)))
        (local.set $e (i32.add (local.get $e) (i32.const 4)))
        (br $entries))))

  ;; Rows idx[start .. end) added to their sparse bins alone (a tree without dense columns).
  (func (export "sparse")
    (param $hist i32) (param $ptr i32) (param $entry i32) (param $idx i32) (param $gh i32) (param $start i32) (param $end i32)
    (local $r i32) (local $ip i32) (local $ie i32)
    (local.set $ip (i32.add (local.get $idx) (i32.shl (local.get $start) (i32.const 2))))
    (local.set $ie (i32.add (local.get $idx) (i32.shl (local.get $end) (i32.const 2))))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $ip) (local.get $ie)))
        (local.set $r (i32.load (local.get $ip)))
        (call $sparseRow (local.get $hist) (local.get $ptr) (local.get $entry) (local.get $r)
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $gh) (i32.shl (local.get $r) (i32.const 3))))))
        (local.set $ip (i32.add (local.get $ip) (i32.const 4)))
        (br $rows))))
;; Moves the rows idx[start .. end) whose bin (a byte at $bins + row) goes left (goLeft[bin] = 1,
  ;; a byte at $goLeft) to the front of the range, in order, and the others in order into tmp from
  ;; position start; returns the end of the left rows (parallel.ts: partitionRows). Without a branch
  ;; on the side: a row is written to both places and only one position advances.
  (func (export "partition")
    (param $idx i32) (param $tmp i32) (param $bins i32) (param $goLeft i32) (param $start i32) (param $end i32) (result i32)
    (local $ip i32) (local $ie i32) (local $l i32) (local $r i32) (local $row i32) (local $left i32)
    (local.set $ip (i32.add (local.get $idx) (i32.shl (local.get $start) (i32.const 2))))
    (local.set $ie (i32.add (local.get $idx) (i32.shl (local.get $end) (i32.const 2))))
    (local.set $l (local.get $ip))
    (local.set $r (i32.add (local.get $tmp) (i32.shl (local.get $start) (i32.const 2))))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $ip) (local.get $ie)))
        (local.set $row (i32.load (local.get $ip)))
        (local.set $left (i32.load8_u (i32.add (local.get $goLeft) (i32.load8_u (i32.add (local.get $bins) (local.get $row))))))
        (i32.store (local.get $l) (local.get $row))
        (i32.store (local.get $r) (local.get $row))
        (local.set $l (i32.add (local.get $l) (i32.shl (local.get $left) (i32.const 2))))
        (local.set $r (i32.add (local.get $r) (i32.shl (i32.sub (i32.const 1) (local.get $left)) (i32.const 2))))
        (local.set $ip (i32.add (local.get $ip) (i32.const 4)))
        (br $rows)))
    (i32.shr_u (i32.sub (local.get $l) (local.get $idx)) (i32.const 2)))
)
