package file

import (
	"context"
	"io"
	"time"

	"github.com/vigilops/vigil/ingest"
	"github.com/vigilops/vigil/telemetry"
)

// Backoff between deliveries the Sink refused with ErrBackpressure.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = 500 * time.Millisecond
)

// readFile reads what tf gained since the last poll, up to readBudget,
// adding its lines to the batch and delivering full batches. For a
// rotated file read to its end and quiet for RotateWait, it also delivers
// the unfinished last line and marks the file finished.
func (t *Tailer) readFile(ctx context.Context, tf *tailed) error {
	t.cur = tf
	budget := readBudget
	for budget > 0 && !t.stopping() {
		n, err := tf.f.ReadAt(t.buf, tf.read)
		if n > 0 {
			tf.read += int64(n)
			tf.size = max(tf.size, tf.read)
			tf.grewAt = t.now
			budget -= n
			t.m.bytes.Add(float64(n))
			tf.split.feed(t.buf[:n], t.emit)
			if len(t.batch) >= t.opts.BatchSize {
				if err := t.flush(ctx); err != nil {
					return err
				}
				t.cur = tf
			}
		}
		if err == io.EOF || (err == nil && n == 0) {
			break
		}
		if err != nil {
			t.m.errors.WithLabelValues(opRead).Inc()
			t.log.Warn("read file", "path", tf.path, "err", err)
			return nil // try again next poll
		}
	}
	if budget <= 0 {
		t.more = true
		return nil
	}
	if tf.rotated && !tf.finished && t.now.Sub(tf.grewAt) >= t.opts.RotateWait {
		if fi, err := tf.f.Stat(); err == nil && fi.Size() > tf.read {
			return nil // grew after the read: not done yet
		}
		if tf.split.pending() {
			t.m.unterminated.Inc()
		}
		tf.split.flush(t.emit)
		tf.finished = true
	}
	return nil
}

// emitLine adds one line of t.cur to the batch (empty lines carry nothing
// and add no record, but still move the position).
func (t *Tailer) emitLine(line []byte, end int64, truncated bool) {
	tf := t.cur
	t.marks[tf] = mark{gen: tf.gen, end: end}
	if truncated {
		t.m.truncated.Inc()
	}
	if len(line) == 0 {
		return
	}
	t.m.lines.Inc()
	t.batch = append(t.batch, telemetry.LogRecord{
		Time:    t.now,
		Service: tf.service,
		Labels:  tf.labels,
		Raw:     string(line),
	})
}

// flush delivers the batch and, once the Sink accepted it, moves each
// file's committed position past its lines and saves the positions. When
// delivery fails, the files of the batch go back to their committed
// position, to be read again on the next poll: nothing is skipped.
func (t *Tailer) flush(ctx context.Context) error {
	if len(t.batch) > 0 {
		start := time.Now()
		// Retried on ErrBackpressure with a growing backoff until ctx is
		// done; meanwhile nothing is read.
		err := ingest.DeliverWithRetry(ctx, func(ctx context.Context) error {
			return t.opts.Sink.Logs(ctx, t.batch)
		}, minBackoff, maxBackoff, t.m.backpressure.Inc)
		t.m.flushDuration.Observe(time.Since(start).Seconds())
		if err != nil {
			for tf := range t.marks {
				tf.read = tf.committed
				tf.split.reset(tf.committed)
				tf.finished = false
			}
			clear(t.marks)
			t.batch = nil
			if ctx.Err() == nil {
				t.m.errors.WithLabelValues(opDeliver).Inc()
				t.log.Warn("deliver file lines; will read them again", "err", err)
			}
			return err
		}
		t.m.delivered.Add(float64(len(t.batch)))
		// The Sink may keep the slice (the bus hands it to subscribers).
		t.batch = nil
	}
	for tf, mk := range t.marks {
		if mk.gen == tf.gen && mk.end > tf.committed {
			tf.committed = mk.end
			t.dirty = true
		}
	}
	clear(t.marks)
	if t.dirty {
		t.save(ctx)
	}
	return nil
}
