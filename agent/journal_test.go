package agent

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetapi/fleetapi/client"
)

func samples(n int, from time.Time) []client.Sample {
	out := make([]client.Sample, n)
	for i := range out {
		out[i] = client.Sample{Timestamp: from.Add(time.Duration(i) * time.Second).UTC(), Signals: map[string]float64{"Vehicle.Speed": float64(i)}}
	}
	return out
}

func seqs(bs []Batch) []uint64 {
	var out []uint64
	for _, b := range bs {
		out = append(out, b.Seq)
	}
	return out
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segmentSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// What was appended and not acknowledged comes back after a reopen, in
// order, with its samples; numbering goes on after the last batch.
func TestJournalKeepsWhatIsNotAcknowledged(t *testing.T) {
	dir := t.TempDir()
	j, pending, _, err := openJournal(dir, 1<<20)
	if err != nil || len(pending) != 0 {
		t.Fatalf("a new journal: %v, %d pending", err, len(pending))
	}
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for i := range 5 {
		if _, err := j.append(samples(10, t0.Add(time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	for _, seq := range []uint64{1, 3} {
		if err := j.ack(seq); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.close(); err != nil {
		t.Fatal(err)
	}
	j, pending, rec, err := openJournal(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(pending); !slices.Equal(got, []uint64{2, 4, 5}) {
		t.Errorf("pending after reopen: %v, want [2 4 5]", got)
	}
	if rec.Batches != 3 || rec.Samples != 30 || rec.TornBytes != 0 {
		t.Errorf("recovery %+v, want 3 batches, 30 samples, nothing torn", rec)
	}
	if !pending[0].Samples[0].Timestamp.Equal(t0.Add(time.Minute)) || len(pending[0].Samples) != 10 {
		t.Errorf("batch 2 came back as %+v", pending[0])
	}
	b, err := j.append(samples(1, t0))
	if err != nil || b.Seq != 6 {
		t.Errorf("the next batch after a reopen: %d, %v, want 6", b.Seq, err)
	}
	for _, seq := range []uint64{2, 4, 5, 6} {
		if err := j.ack(seq); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.close(); err != nil {
		t.Fatal(err)
	}
	if left := segments(t, dir); len(left) != 0 {
		t.Errorf("everything acknowledged, yet the journal keeps %v", left)
	}
}

// A power cut can leave the newest segment ending in part of a record
// (its write had not been fsynced, so its batch had not been sent): at every
// length the file could be cut to, a reopen keeps the whole records before
// the cut, drops the rest, and appends after them.
func TestJournalDropsATornTail(t *testing.T) {
	src := t.TempDir()
	j, _, _, err := openJournal(src, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	var ends []int64 // the file's size after each record
	for i := range 3 {
		if _, err := j.append(samples(10, t0.Add(time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, j.segs[0].size)
	}
	if err := j.ack(1); err != nil {
		t.Fatal(err)
	}
	ends = append(ends, j.segs[0].size)
	path := j.segs[0].path
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	j.f.Close()
	for cut := int64(0); cut <= int64(len(data)); cut++ {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(path)), data[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		j, pending, rec, err := openJournal(dir, 1<<20)
		if err != nil {
			t.Fatalf("cut at %d of %d: %v", cut, len(data), err)
		}
		// Whole records before the cut.
		whole := 0
		for whole < len(ends) && ends[whole] <= cut {
			whole++
		}
		var want []uint64
		switch {
		case whole == 4:
			want = []uint64{2, 3} // the acknowledgement of 1 is whole
		default:
			for s := 1; s <= min(whole, 3); s++ {
				want = append(want, uint64(s))
			}
		}
		if got := seqs(pending); !slices.Equal(got, want) {
			t.Fatalf("cut at %d: pending %v, want %v", cut, got, want)
		}
		kept := int64(0)
		if whole > 0 {
			kept = ends[whole-1]
		}
		if rec.TornBytes != cut-kept {
			t.Fatalf("cut at %d: %d bytes torn, want %d", cut, rec.TornBytes, cut-kept)
		}
		b, err := j.append(samples(1, t0))
		if err != nil || b.Seq != uint64(min(whole, 3)+1) {
			t.Fatalf("cut at %d: append after: %d, %v", cut, b.Seq, err)
		}
		j.close()
		if _, pending, _, err := openJournal(dir, 1<<20); err != nil || len(pending) != len(want)+1 {
			t.Fatalf("cut at %d: reopened after an append: %d pending, %v", cut, len(pending), err)
		}
	}
}

// Only the newest segment can be torn; damage anywhere else is reported,
// with the file and the offset, rather than read past.
func TestJournalReportsDamage(t *testing.T) {
	dir := t.TempDir()
	j, _, _, err := openJournal(dir, 1) // a segment per batch
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for range 3 {
		if _, err := j.append(samples(10, t0)); err != nil {
			t.Fatal(err)
		}
	}
	j.close()
	segs := segments(t, dir)
	if len(segs) != 3 {
		t.Fatalf("segments %v, want one per batch", segs)
	}
	data, _ := os.ReadFile(segs[0])
	data[headerBytes+5] ^= 0xff
	os.WriteFile(segs[0], data, 0o600)
	_, _, _, err = openJournal(dir, 1)
	if err == nil || !strings.Contains(err.Error(), filepath.Base(segs[0])) || !strings.Contains(err.Error(), "offset 0") {
		t.Errorf("a damaged older segment: %v, want an error naming it and offset 0", err)
	}
}

// Segments are deleted oldest first once none of their batches is left to
// send: a batch not acknowledged keeps its segment and every later one
// (whose acknowledgements may be of its neighbours).
func TestJournalDeletesAcknowledgedSegments(t *testing.T) {
	dir := t.TempDir()
	j, _, _, err := openJournal(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for range 4 {
		if _, err := j.append(samples(10, t0)); err != nil {
			t.Fatal(err)
		}
	}
	for _, seq := range []uint64{2, 3, 4} {
		j.ack(seq)
	}
	if n := len(segments(t, dir)); n != 4 {
		t.Errorf("batch 1 unacknowledged: %d segments, want all 4 kept", n)
	}
	j.ack(1)
	// The newest is kept while it is written.
	if got := segments(t, dir); len(got) != 1 || filepath.Base(got[0]) != segmentName(4) {
		t.Errorf("all acknowledged: segments %v, want the one being written", got)
	}
	j.close()
	if got := segments(t, dir); len(got) != 0 {
		t.Errorf("closed with nothing to send: segments %v", got)
	}
}
