package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetapi/fleetapi/client"
)

// uploads is an Uploader that records the batches it is given and answers
// with fail's error (nil: acknowledged).
type uploads struct {
	mu   sync.Mutex
	got  []Batch
	fail func(b Batch, attempt int) error
}

func (u *uploads) Upload(_ context.Context, b Batch) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.got = append(u.got, b)
	if u.fail != nil {
		return u.fail(b, len(u.got))
	}
	return nil
}

func (u *uploads) Close() error { return nil }

func (u *uploads) batches() []Batch {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Batch(nil), u.got...)
}

func open(t *testing.T, cfg Config) *Agent {
	t.Helper()
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = time.Millisecond, 5*time.Millisecond
	}
	a, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// run runs a until stop is called, then returns Run's error.
func run(a *Agent) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return func() error { cancel(); return <-done }
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not after 5 s: %s", what)
		}
	}
}

// Batches are BatchSize samples; a batch not full is sealed FlushInterval
// after its first sample; each is acknowledged in order, and OnAck sees it.
func TestAgentBatchesBySizeAndInterval(t *testing.T) {
	up := &uploads{}
	var mu sync.Mutex
	var acked []uint64
	a := open(t, Config{Dir: t.TempDir(), Uploader: up, BatchSize: 25, FlushInterval: 50 * time.Millisecond,
		OnAck: func(b Batch) { mu.Lock(); acked = append(acked, b.Seq); mu.Unlock() }})
	stop := run(a)
	t0 := time.Now().Add(-time.Hour)
	for _, s := range samples(60, t0) {
		if err := a.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the last 10 samples flushed", func() bool { return a.Stats().Acked == 3 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := up.batches()
	if len(got) != 3 || len(got[0].Samples) != 25 || len(got[1].Samples) != 25 || len(got[2].Samples) != 10 {
		t.Fatalf("batches %d: want 25, 25 and the 10 the interval flushed", len(got))
	}
	if !got[2].Samples[0].Timestamp.Equal(t0.Add(50 * time.Second).UTC()) {
		t.Errorf("the third batch starts at %v, want the 51st sample", got[2].Samples[0].Timestamp)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(acked) != 3 || acked[0] != 1 || acked[2] != 3 {
		t.Errorf("OnAck saw %v, want [1 2 3]", acked)
	}
	if s := a.Stats(); s.Samples != 60 || s.AckedSamp != 60 || s.Pending != 0 {
		t.Errorf("stats %+v", s)
	}
}

// A failed upload is sent again, the same batch, before any later one;
// nothing is skipped, nothing acknowledged twice.
func TestAgentRetriesInOrder(t *testing.T) {
	up := &uploads{fail: func(b Batch, attempt int) error {
		if attempt <= 3 {
			return errors.New("connection lost")
		}
		return nil
	}}
	a := open(t, Config{Dir: t.TempDir(), Uploader: up})
	for _, s := range samples(30, time.Now().Add(-time.Hour)) {
		a.Add(s)
	}
	stop := run(a)
	eventually(t, "3 batches acknowledged", func() bool { return a.Stats().Acked == 3 })
	stop()
	var order []uint64
	for _, b := range up.batches() {
		order = append(order, b.Seq)
	}
	if want := []uint64{1, 1, 1, 1, 2, 3}; len(order) != len(want) || order[3] != 1 || order[4] != 2 || order[5] != 3 {
		t.Errorf("attempts %v, want %v", order, want)
	}
}

// A batch the API refuses for good is set aside with its reason and its
// samples, and the agent goes on with the next.
func TestAgentSetsRejectedBatchesAside(t *testing.T) {
	dir := t.TempDir()
	up := &uploads{fail: func(b Batch, _ int) error {
		if b.Seq == 1 {
			return &RejectedError{Status: 400, Reason: `{"message":"samples[0].timestamp is older than the retention"}`}
		}
		return nil
	}}
	a := open(t, Config{Dir: dir, Uploader: up})
	for _, s := range samples(20, time.Now().Add(-time.Hour)) {
		a.Add(s)
	}
	stop := run(a)
	eventually(t, "batch 2 acknowledged", func() bool { return a.Stats().Acked == 1 })
	stop()
	if s := a.Stats(); s.Rejected != 1 || s.Pending != 0 {
		t.Errorf("stats %+v, want 1 rejected, 0 pending", s)
	}
	f, err := os.Open(filepath.Join(dir, RejectedFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var lines []map[string]any
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 1 || lines[0]["seq"] != 1.0 || lines[0]["status"] != 400.0 || len(lines[0]["samples"].([]any)) != 10 {
		t.Errorf("rejected.jsonl: %v, want batch 1 with its status and 10 samples", lines)
	}
	if b, err := Open(Config{Dir: dir, Uploader: up}); err != nil || b.Recovery().Batches != 0 {
		t.Errorf("after a reopen: %+v, %v, want nothing to send", b.Recovery(), err)
	}
}

// A sample the API would refuse never enters a batch: set aside alone
// with the API's own reason, the batch of the good samples goes out (it
// was acknowledged over MQTT, then dead-lettered whole, its good samples
// with it); so is a sample of a millisecond another of the batch has.
func TestAgentSetsBadSamplesAsideAlone(t *testing.T) {
	dir := t.TempDir()
	up := &uploads{}
	a := open(t, Config{Dir: dir, Uploader: up, BatchSize: 10})
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	good := samples(10, start)
	bad := []struct {
		s    client.Sample
		want string
	}{
		{client.Sample{Timestamp: start.Add(3 * time.Second), Signals: map[string]float64{"Vehicle.Speed": 9999}}, "Vehicle.Speed: 9999 is out of range [-250, 500]"},
		{client.Sample{Timestamp: time.Now().Add(time.Hour), Signals: map[string]float64{"Vehicle.Speed": 50}}, "in the future"},
		{client.Sample{Timestamp: start.Add(4 * time.Second), Signals: map[string]float64{"not a name!": 1}}, "must be dot-separated words"},
		{client.Sample{Timestamp: start.Add(5 * time.Second), Signals: map[string]float64{}}, "must hold at least one signal"},
		{client.Sample{Timestamp: good[0].Timestamp, Signals: map[string]float64{"Vehicle.Speed": 51}}, "two samples have the timestamp"},
	}
	for i, s := range good {
		if err := a.Add(s); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			for _, b := range bad {
				if err := a.Add(b.s); !errors.Is(err, ErrSampleRejected) || !strings.Contains(err.Error(), b.want) {
					t.Errorf("Add(%v): %v, want ErrSampleRejected, %q", b.s.Signals, err, b.want)
				}
			}
		}
	}
	stop := run(a)
	eventually(t, "the batch of good samples acknowledged", func() bool { return a.Stats().Acked == 1 })
	stop()
	if got := up.batches(); len(got) != 1 || len(got[0].Samples) != 10 {
		t.Fatalf("uploaded %d batches (%v), want the one of the 10 good samples", len(got), got)
	}
	if s := a.Stats(); s.RejectedSamples != int64(len(bad)) || s.Rejected != 0 {
		t.Errorf("stats %+v, want %d samples set aside, no batch", s, len(bad))
	}
	data, err := os.ReadFile(filepath.Join(dir, RejectedFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != len(bad) || !strings.Contains(lines[0], "out of range") || !strings.Contains(lines[0], `"Vehicle.Speed":9999`) {
		t.Errorf("rejected.jsonl:\n%s", data)
	}
}

// Stopped while its uploads fail, the agent seals what it took, keeps it
// all in its journal, and a new agent on the journal sends it, the same
// batches: what the first had acknowledged is not sent again.
func TestAgentReplaysAfterARestart(t *testing.T) {
	dir := t.TempDir()
	down := &uploads{fail: func(b Batch, _ int) error {
		if b.Seq > 2 {
			return errors.New("no network")
		}
		return nil
	}}
	a := open(t, Config{Dir: dir, Uploader: down, DrainTimeout: 20 * time.Millisecond})
	stop := run(a)
	all := samples(45, time.Now().Add(-time.Hour))
	for _, s := range all {
		a.Add(s)
	}
	eventually(t, "2 batches acknowledged", func() bool { return a.Stats().Acked == 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	up := &uploads{}
	b := open(t, Config{Dir: dir, Uploader: up})
	if r := b.Recovery(); r.Batches != 3 || r.Samples != 25 {
		t.Errorf("recovery %+v, want batches 3, 4 and the 5 samples sealed on stop", r)
	}
	stop = run(b)
	eventually(t, "the replay", func() bool { return b.Stats().Acked == 3 })
	stop()
	got := up.batches()
	if len(got) != 3 || got[0].Seq != 3 || !got[0].Samples[0].Timestamp.Equal(all[20].Timestamp) || len(got[2].Samples) != 5 {
		t.Errorf("replayed %v, want batches 3, 4, 5 from sample 21 on", seqs(got))
	}
}

// A full journal refuses new samples and keeps the old.
func TestAgentRefusesSamplesWhenTheJournalIsFull(t *testing.T) {
	up := &uploads{fail: func(Batch, int) error { return errors.New("offline") }}
	a := open(t, Config{Dir: t.TempDir(), Uploader: up, MaxJournalBytes: 4096})
	var err error
	n := 0
	for _, s := range samples(1000, time.Now().Add(-time.Hour)) {
		if err = a.Add(s); err != nil {
			break
		}
		n++
	}
	if !errors.Is(err, ErrJournalFull) {
		t.Fatalf("after %d samples: %v, want ErrJournalFull", n, err)
	}
	if s := a.Stats(); s.Batches*10 != int64(n) || s.Pending != s.Batches {
		t.Errorf("stats %+v after %d samples", s, n)
	}
}

// Bad settings are named with what is allowed.
func TestOpenRefusesBadSettings(t *testing.T) {
	for _, size := range []int{9, 101} {
		if _, err := Open(Config{Dir: t.TempDir(), Uploader: &uploads{}, BatchSize: size}); err == nil {
			t.Errorf("BatchSize %d accepted", size)
		}
	}
	if _, err := NewMQTTUploader(MQTTOptions{Endpoint: "x", Topic: "vehicles/car/events", ThingName: "car"}); err == nil {
		t.Error("a topic without ${VID} accepted")
	}
}

// A journal that can no longer be written ends Run with its error, rather
// than acknowledging what it cannot record.
func TestAgentStopsWhenTheJournalFails(t *testing.T) {
	up := &uploads{}
	a := open(t, Config{Dir: t.TempDir(), Uploader: up})
	for _, s := range samples(10, time.Now().Add(-time.Hour)) {
		a.Add(s)
	}
	a.journal.f.Close() // the disk fails under it
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "journal") {
			t.Errorf("Run: %v, want the journal's error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the journal failed")
	}
	if s := a.Stats(); s.Acked != 0 {
		t.Errorf("stats %+v: a batch acknowledged whose acknowledgement was not recorded", s)
	}
}
