;; Kernels of the boosting grower over the arena's shared memory (arena.ts): the histogram sums
;; (histograms.ts: scanRows, scanSums, addSparse), the partition of a node's rows (parallel.ts:
;; partitionRows) and the binary log-loss gradients (objective.ts, with exp.ts's e^x). Every address is a byte offset into that memory. A bin holds
;; three float64 channels (gradient, hessian, count: 24 bytes); a row's gradient pair is two
;; float32 (8 bytes), added to a bin's first two channels as one f64x2. Each bin gets its rows in
;; row order, the adds of the JavaScript kernels: the same sums, bit for bit.
(module
  (import "env" "memory" (memory 1 32768 shared))
  ;; Math.exp, for the arguments exp.ts leaves to it.
  (import "env" "exp" (func $mathExp (param f64) (result f64)))

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
    (local $v v128) (local $w v128) (local $ip i32) (local $ie i32) (local $e i32) (local $e1 i32)
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
        ;; $sparseRow of r, then of q, written out (a call a row cost a fifth of the pass).
        (if (local.get $sparse)
          (then
            (local.set $e (i32.add (local.get $entry) (i32.shl (i32.load (i32.add (local.get $ptr) (i32.shl (local.get $r) (i32.const 2)))) (i32.const 2))))
            (local.set $e1 (i32.add (local.get $entry) (i32.shl (i32.load offset=4 (i32.add (local.get $ptr) (i32.shl (local.get $r) (i32.const 2)))) (i32.const 2))))
            (block $sparse_done
              (loop $entries
                (br_if $sparse_done (i32.ge_u (local.get $e) (local.get $e1)))
                (local.set $o (i32.add (local.get $hist) (i32.shl (i32.load (local.get $e)) (i32.const 3))))
                (v128.store (local.get $o) (f64x2.add (v128.load (local.get $o)) (local.get $v)))
                (f64.store offset=16 (local.get $o) (f64.add (f64.load offset=16 (local.get $o)) (f64.const 1)))
                (local.set $e (i32.add (local.get $e) (i32.const 4)))
                (br $entries)))
            (local.set $e (i32.add (local.get $entry) (i32.shl (i32.load (i32.add (local.get $ptr) (i32.shl (local.get $q) (i32.const 2)))) (i32.const 2))))
            (local.set $e1 (i32.add (local.get $entry) (i32.shl (i32.load offset=4 (i32.add (local.get $ptr) (i32.shl (local.get $q) (i32.const 2)))) (i32.const 2))))
            (block $sparse_done
              (loop $entries
                (br_if $sparse_done (i32.ge_u (local.get $e) (local.get $e1)))
                (local.set $o (i32.add (local.get $hist) (i32.shl (i32.load (local.get $e)) (i32.const 3))))
                (v128.store (local.get $o) (f64x2.add (v128.load (local.get $o)) (local.get $w)))
                (f64.store offset=16 (local.get $o) (f64.add (f64.load offset=16 (local.get $o)) (f64.const 1)))
                (local.set $e (i32.add (local.get $e) (i32.const 4)))
                (br $entries)))))
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

  ;; e^x: exp.ts (fdlibm's e_exp.c) operation for operation, so the same bits; 2^k made from its bits.
  (func $exp (export "exp") (param $x f64) (result f64)
    (local $ax f64) (local $hi f64) (local $lo f64) (local $k i32) (local $r f64) (local $t f64) (local $c f64)
    (local.set $ax (f64.abs (local.get $x)))
    (if (i32.or (i32.eqz (f64.le (local.get $ax) (f64.const 700))) (f64.eq (local.get $x) (f64.const 1)))
      (then (return (call $mathExp (local.get $x)))))
    (if (f64.ge (local.get $ax) (f64.const 0x1.62e43p-2))
      (then
        (if (f64.lt (local.get $ax) (f64.const 0x1.0a2b2p+0))
          (then
            (if (f64.gt (local.get $x) (f64.const 0))
              (then
                (local.set $hi (f64.sub (local.get $x) (f64.const 0x1.62e42fee00000p-1)))
                (local.set $lo (f64.const 0x1.a39ef35793c76p-33))
                (local.set $k (i32.const 1)))
              (else
                (local.set $hi (f64.add (local.get $x) (f64.const 0x1.62e42fee00000p-1)))
                (local.set $lo (f64.const -0x1.a39ef35793c76p-33))
                (local.set $k (i32.const -1)))))
          (else
            (local.set $k
              (i32.trunc_f64_s
                (f64.add
                  (f64.mul (f64.const 0x1.71547652b82fep+0) (local.get $x))
                  (select (f64.const -0.5) (f64.const 0.5) (f64.lt (local.get $x) (f64.const 0))))))
            (local.set $hi (f64.sub (local.get $x) (f64.mul (f64.convert_i32_s (local.get $k)) (f64.const 0x1.62e42fee00000p-1))))
            (local.set $lo (f64.mul (f64.convert_i32_s (local.get $k)) (f64.const 0x1.a39ef35793c76p-33)))))
        (local.set $r (f64.sub (local.get $hi) (local.get $lo)))
        (local.set $t (f64.mul (local.get $r) (local.get $r)))
        (local.set $c (f64.sub (local.get $r) (f64.mul (local.get $t) (f64.add (f64.const 0x1.555555555553ep-3) (f64.mul (local.get $t) (f64.add (f64.const -0x1.6c16c16bebd93p-9) (f64.mul (local.get $t) (f64.add (f64.const 0x1.1566aaf25de2cp-14) (f64.mul (local.get $t) (f64.add (f64.const -0x1.bbd41c5d26bf1p-20) (f64.mul (local.get $t) (f64.const 0x1.6376972bea4d0p-25))))))))))))
        (return
          (f64.mul
            (f64.sub (f64.const 1)
              (f64.sub
                (f64.sub (local.get $lo) (f64.div (f64.mul (local.get $r) (local.get $c)) (f64.sub (f64.const 2) (local.get $c))))
                (local.get $hi)))
            (f64.reinterpret_i64 (i64.shl (i64.extend_i32_s (i32.add (local.get $k) (i32.const 1023))) (i64.const 52)))))))
    (if (f64.lt (local.get $ax) (f64.const 0x1p-28))
      (then (return (f64.add (f64.const 1) (local.get $x)))))
    (local.set $t (f64.mul (local.get $x) (local.get $x)))
    (local.set $c (f64.sub (local.get $x) (f64.mul (local.get $t) (f64.add (f64.const 0x1.555555555553ep-3) (f64.mul (local.get $t) (f64.add (f64.const -0x1.6c16c16bebd93p-9) (f64.mul (local.get $t) (f64.add (f64.const 0x1.1566aaf25de2cp-14) (f64.mul (local.get $t) (f64.add (f64.const -0x1.bbd41c5d26bf1p-20) (f64.mul (local.get $t) (f64.const 0x1.6376972bea4d0p-25))))))))))))
    (f64.sub (f64.const 1) (f64.sub (f64.div (f64.mul (local.get $x) (local.get $c)) (f64.sub (local.get $c) (f64.const 2))) (local.get $x))))

  ;; Rows [start, end) of a binary log-loss fit: the last tree's output (float64 at $rowValue) added
  ;; to the row's score (float64 at $scores), then p = sigmoid(score) and the float32 pair
  ;; (w (p - y), w max(p (1 - p), 1e-16)) at $gh (y and w float64): objective.ts's binaryLogLoss.
  (func (export "binaryGradients")
    (param $y i32) (param $scores i32) (param $w i32) (param $gh i32) (param $rowValue i32) (param $start i32) (param $end i32)
    (local $o i32) (local $oe i32) (local $s f64) (local $p f64) (local $wi f64)
    (local.set $o (i32.shl (local.get $start) (i32.const 3)))
    (local.set $oe (i32.shl (local.get $end) (i32.const 3)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $o) (local.get $oe)))
        (local.set $s (f64.add (f64.load (i32.add (local.get $scores) (local.get $o))) (f64.load (i32.add (local.get $rowValue) (local.get $o)))))
        (f64.store (i32.add (local.get $scores) (local.get $o)) (local.get $s))
        (local.set $p (f64.div (f64.const 1) (f64.add (f64.const 1) (call $exp (f64.neg (local.get $s))))))
        (local.set $wi (f64.load (i32.add (local.get $w) (local.get $o))))
        (f32.store (i32.add (local.get $gh) (local.get $o))
          (f32.demote_f64 (f64.mul (local.get $wi) (f64.sub (local.get $p) (f64.load (i32.add (local.get $y) (local.get $o)))))))
        (f32.store offset=4 (i32.add (local.get $gh) (local.get $o))
          (f32.demote_f64 (f64.mul (local.get $wi) (f64.max (f64.mul (local.get $p) (f64.sub (f64.const 1) (local.get $p))) (f64.const 1e-16)))))
        (local.set $o (i32.add (local.get $o) (i32.const 8)))
        (br $rows))))

  ;; The rows of a node [start, end) partitioned by $nChunks chunks (chunk c: positions
  ;; [start + floor(c (end - start) / nChunks), .. of c + 1), see histograms.ts: chunkStart), each
  ;; with its chunkLeft[c] left rows at its front in idx and its other rows in tmp at its positions:
  ;; the chunks' left rows, then their right rows, each in chunk order, into idx; returns the first
  ;; position of the right rows. Addresses: $idx, $tmp, $chunkLeft (int32 each).
  (func (export "joinChunks")
    (param $idx i32) (param $tmp i32) (param $chunkLeft i32) (param $start i32) (param $end i32) (param $nChunks i32) (result i32)
    (local $c i32) (local $a i32) (local $b i32) (local $left i32) (local $at i32) (local $mid i32)
    (local.set $at (local.get $start))
    (local.set $c (i32.const 0))
    (block $done
      (loop $chunks
        (br_if $done (i32.ge_u (local.get $c) (local.get $nChunks)))
        (local.set $a (call $chunkStart (local.get $start) (local.get $end) (local.get $nChunks) (local.get $c)))
        (local.set $left (i32.load (i32.add (local.get $chunkLeft) (i32.shl (local.get $c) (i32.const 2)))))
        (memory.copy
          (i32.add (local.get $idx) (i32.shl (local.get $at) (i32.const 2)))
          (i32.add (local.get $idx) (i32.shl (local.get $a) (i32.const 2)))
          (i32.shl (local.get $left) (i32.const 2)))
        (local.set $at (i32.add (local.get $at) (local.get $left)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $chunks)))
    (local.set $mid (local.get $at))
    (local.set $c (i32.const 0))
    (block $done
      (loop $chunks
        (br_if $done (i32.ge_u (local.get $c) (local.get $nChunks)))
        (local.set $a (call $chunkStart (local.get $start) (local.get $end) (local.get $nChunks) (local.get $c)))
        (local.set $b (call $chunkStart (local.get $start) (local.get $end) (local.get $nChunks) (i32.add (local.get $c) (i32.const 1))))
        (local.set $left (i32.sub (i32.sub (local.get $b) (local.get $a)) (i32.load (i32.add (local.get $chunkLeft) (i32.shl (local.get $c) (i32.const 2))))))
        (memory.copy
          (i32.add (local.get $idx) (i32.shl (local.get $at) (i32.const 2)))
          (i32.add (local.get $tmp) (i32.shl (local.get $a) (i32.const 2)))
          (i32.shl (local.get $left) (i32.const 2)))
        (local.set $at (i32.add (local.get $at) (local.get $left)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $chunks)))
    (local.get $mid))

  ;; start + floor(c (end - start) / nChunks), in 64 bits (histograms.ts: chunkStart).
  (func $chunkStart (param $start i32) (param $end i32) (param $nChunks i32) (param $c i32) (result i32)
    (i32.add (local.get $start)
      (i32.wrap_i64
        (i64.div_u
          (i64.mul (i64.extend_i32_u (local.get $c)) (i64.extend_i32_u (i32.sub (local.get $end) (local.get $start))))
          (i64.extend_i32_u (local.get $nChunks))))))

  ;; $bytes zero bytes from $at.
  (func (export "zero") (param $at i32) (param $bytes i32)
    (memory.fill (local.get $at) (i32.const 0) (local.get $bytes)))

  ;; idx[i] = i for i in [0, n) (int32 at $idx), four a step.
  (func (export "identity") (param $idx i32) (param $n i32)
    (local $p i32) (local $end i32) (local $v v128) (local $i i32)
    (local.set $p (local.get $idx))
    (local.set $end (i32.add (local.get $idx) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (local.set $v (v128.const i32x4 0 1 2 3))
    (block $done
      (loop $fours
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (v128.store (local.get $p) (local.get $v))
        (local.set $v (i32x4.add (local.get $v) (v128.const i32x4 4 4 4 4)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $fours)))
    (local.set $i (i32.and (local.get $n) (i32.const -4)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store (i32.add (local.get $idx) (i32.shl (local.get $i) (i32.const 2))) (local.get $i))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail))))

  ;; rowValue[idx[q]] = $value for q in [start, end): a leaf's value to its rows (float64 at
  ;; $rowValue, int32 rows at $idx).
  (func (export "spreadLeaf") (param $rowValue i32) (param $idx i32) (param $start i32) (param $end i32) (param $value f64)
    (local $q i32) (local $qe i32)
    (local.set $q (i32.add (local.get $idx) (i32.shl (local.get $start) (i32.const 2))))
    (local.set $qe (i32.add (local.get $idx) (i32.shl (local.get $end) (i32.const 2))))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $q) (local.get $qe)))
        (f64.store (i32.add (local.get $rowValue) (i32.shl (i32.load (local.get $q)) (i32.const 3))) (local.get $value))
        (local.set $q (i32.add (local.get $q) (i32.const 4)))
        (br $rows))))

  ;; The best split of a leaf (splits.ts: searchSplits, operation for operation, so the same
  ;; record): over features[0 .. nFeat) (int32 at $features), feature f's histogram at
  ;; $hist + 8 featOff[f] (int32 at $featOff), its bins nBins[f], missingBin[f] (int32 at $nBins,
  ;; $missingBin) and hasMissing[f] (a byte at $hasMissing). The record goes to the 7 float64 at
  ;; $out (splits.ts: writeSplit): feature (-1: none), bin, default left, gain, left G, H, N.
  (func (export "searchSplits")
    (param $hist i32) (param $featOff i32) (param $features i32) (param $nFeat i32)
    (param $nBins i32) (param $missingBin i32) (param $hasMissing i32)
    (param $G f64) (param $H f64) (param $N f64)
    (param $minSamples f64) (param $minHessian f64) (param $l2 f64) (param $minGain f64) (param $out i32)
    (local $j i32) (local $f i32) (local $off i32) (local $hasMb i32) (local $nValue i32) (local $mo i32) (local $mn f64)
    (f64.store (local.get $out) (f64.const -1))
    (f64.store offset=24 (local.get $out) (f64.max (local.get $minGain) (f64.const 0)))
    (block $done
      (loop $feats
        (br_if $done (i32.ge_u (local.get $j) (local.get $nFeat)))
        (local.set $f (i32.load (i32.add (local.get $features) (i32.shl (local.get $j) (i32.const 2)))))
        (local.set $off (i32.add (local.get $hist) (i32.shl (i32.load (i32.add (local.get $featOff) (i32.shl (local.get $f) (i32.const 2)))) (i32.const 3))))
        (local.set $hasMb (i32.load8_u (i32.add (local.get $hasMissing) (local.get $f))))
        (local.set $nValue (i32.sub (i32.load (i32.add (local.get $nBins) (i32.shl (local.get $f) (i32.const 2)))) (local.get $hasMb)))
        (local.set $mo (i32.add (local.get $off) (i32.mul (i32.load (i32.add (local.get $missingBin) (i32.shl (local.get $f) (i32.const 2)))) (i32.const 24))))
        (local.set $mn (if (result f64) (local.get $hasMb) (then (f64.load offset=16 (local.get $mo))) (else (f64.const 0))))
        ;; Missing values to the right (unseen ones follow the larger child); with missing values,
        ;; "all values left" is a split too.
        (call $scanSplits (local.get $off)
          (if (result i32) (f64.gt (local.get $mn) (f64.const 0)) (then (local.get $nValue)) (else (i32.sub (local.get $nValue) (i32.const 1))))
          (f64.const 0) (f64.const 0) (f64.const 0)
          (if (result i32) (f64.eq (local.get $mn) (f64.const 0)) (then (i32.const 2)) (else (i32.const 1)))
          (local.get $f) (local.get $G) (local.get $H) (local.get $N) (local.get $minSamples) (local.get $minHessian) (local.get $l2) (local.get $out))
        ;; Missing values to the left.
        (if (f64.gt (local.get $mn) (f64.const 0))
          (then
            (call $scanSplits (local.get $off) (i32.sub (local.get $nValue) (i32.const 1))
              (f64.load (local.get $mo)) (f64.load offset=8 (local.get $mo)) (local.get $mn) (i32.const 0)
              (local.get $f) (local.get $G) (local.get $H) (local.get $N) (local.get $minSamples) (local.get $minHessian) (local.get $l2) (local.get $out))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $feats))))

  ;; splits.ts: scanSplits. $missing: 0 left, 1 right, 2 with the larger side.
  (func $scanSplits
    (param $off i32) (param $last i32) (param $g0 f64) (param $h0 f64) (param $n0 f64) (param $missing i32) (param $f i32)
    (param $G f64) (param $H f64) (param $N f64) (param $minSamples f64) (param $minHessian f64) (param $l2 f64) (param $out i32)
    (local $parent f64) (local $gl f64) (local $hl f64) (local $nl f64) (local $nr f64) (local $hr f64) (local $gr f64)
    (local $gain f64) (local $best f64) (local $b i32) (local $o i32)
    (local.set $parent (f64.div (f64.mul (local.get $G) (local.get $G)) (f64.add (local.get $H) (local.get $l2))))
    (local.set $gl (local.get $g0))
    (local.set $hl (local.get $h0))
    (local.set $nl (local.get $n0))
    (local.set $best (f64.load offset=24 (local.get $out)))
    (local.set $o (local.get $off))
    (block $done
      (loop $bins
        (br_if $done (i32.ge_s (local.get $b) (local.get $last)))
        (if (f64.ne (f64.load offset=16 (local.get $o)) (f64.const 0))
          (then
            (local.set $gl (f64.add (local.get $gl) (f64.load (local.get $o))))
            (local.set $hl (f64.add (local.get $hl) (f64.load offset=8 (local.get $o))))
            (local.set $nl (f64.add (local.get $nl) (f64.load offset=16 (local.get $o))))
            (local.set $nr (f64.sub (local.get $N) (local.get $nl)))
            (local.set $hr (f64.sub (local.get $H) (local.get $hl)))
            (if (i32.eqz
                  (i32.or
                    (i32.or (f64.lt (local.get $nl) (local.get $minSamples)) (f64.lt (local.get $nr) (local.get $minSamples)))
                    (i32.or (f64.lt (local.get $hl) (local.get $minHessian)) (f64.lt (local.get $hr) (local.get $minHessian)))))
              (then
                (local.set $gr (f64.sub (local.get $G) (local.get $gl)))
                (local.set $gain
                  (f64.mul (f64.const 0.5)
                    (f64.sub
                      (f64.add
                        (f64.div (f64.mul (local.get $gl) (local.get $gl)) (f64.add (local.get $hl) (local.get $l2)))
                        (f64.div (f64.mul (local.get $gr) (local.get $gr)) (f64.add (local.get $hr) (local.get $l2))))
                      (local.get $parent))))
                (if (f64.gt (local.get $gain) (local.get $best))
                  (then
                    (local.set $best (local.get $gain))
                    (f64.store (local.get $out) (f64.convert_i32_s (local.get $f)))
                    (f64.store offset=8 (local.get $out) (f64.convert_i32_s (local.get $b)))
                    (f64.store offset=16 (local.get $out)
                      (f64.convert_i32_u
                        (i32.or (i32.eqz (local.get $missing))
                          (i32.and (i32.eq (local.get $missing) (i32.const 2)) (f64.ge (local.get $nl) (local.get $nr))))))
                    (f64.store offset=24 (local.get $out) (local.get $gain))
                    (f64.store offset=32 (local.get $out) (local.get $gl))
                    (f64.store offset=40 (local.get $out) (local.get $hl))
                    (f64.store offset=48 (local.get $out) (local.get $nl))))))))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $o (i32.add (local.get $o) (i32.const 24)))
        (br $bins))))

  ;; dst[j] = a[j] + b[j] (op 0) or a[j] - b[j] (op 1) for $n float64s (addresses $dst, $a, $b; dst may
  ;; be a), two a step: the chunks' histograms added to a node's, the subtraction trick.
  (func (export "combine") (param $dst i32) (param $a i32) (param $b i32) (param $n i32) (param $op i32)
    (local $k i32) (local $pairs i32)
    (local.set $pairs (i32.shl (i32.shr_u (local.get $n) (i32.const 1)) (i32.const 4)))
    (if (local.get $op)
      (then
        (block $done
          (loop $two
            (br_if $done (i32.ge_u (local.get $k) (local.get $pairs)))
            (v128.store (i32.add (local.get $dst) (local.get $k))
              (f64x2.sub (v128.load (i32.add (local.get $a) (local.get $k))) (v128.load (i32.add (local.get $b) (local.get $k)))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $two)))
        (if (i32.and (local.get $n) (i32.const 1))
          (then
            (f64.store (i32.add (local.get $dst) (local.get $k))
              (f64.sub (f64.load (i32.add (local.get $a) (local.get $k))) (f64.load (i32.add (local.get $b) (local.get $k))))))))
      (else
        (block $done
          (loop $two
            (br_if $done (i32.ge_u (local.get $k) (local.get $pairs)))
            (v128.store (i32.add (local.get $dst) (local.get $k))
              (f64x2.add (v128.load (i32.add (local.get $a) (local.get $k))) (v128.load (i32.add (local.get $b) (local.get $k)))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $two)))
        (if (i32.and (local.get $n) (i32.const 1))
          (then
            (f64.store (i32.add (local.get $dst) (local.get $k))
              (f64.add (f64.load (i32.add (local.get $a) (local.get $k))) (f64.load (i32.add (local.get $b) (local.get $k))))))))))
)
