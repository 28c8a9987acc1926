// Package agent is the vehicle's side of uploads, for vehicle software to
// embed (cmd/agent runs it as a program): it takes samples, batches them
// (10 to 100 per upload, or what a flush interval gathered), writes every
// batch to an append-only journal on disk before it is sent, uploads it
// over MQTT (AWS IoT Core Basic Ingest, mutual TLS with the vehicle's
// certificate, QoS 1) or over HTTPS (the REST API, SigV4 with the
// vehicle's own credentials), and deletes it only once acknowledged. After
// a restart, it sends what the journal holds first.
//
// # What an acknowledgement means
//
// Over HTTPS, 201 or 200 means the API stored the batch (200: an earlier
// attempt did). Over MQTT, the PUBACK of a QoS 1 publish means AWS IoT
// Core accepted the message; it is not yet stored: the upload rule invokes
// the ingest function asynchronously, Lambda retries a failed invocation
// twice, and an upload every attempt failed goes to the stage's failure
// queue (stack output UploadFailureQueueUrl), from which cmd/redrive
// stores it. Either way the vehicle keeps a batch in its journal until the
// acknowledgement, and sends it again, the same samples, after a lost
// connection, an unanswered publish or a restart; the API derives the
// event's ID from the samples, so a batch sent twice is stored once.
//
// # What a crash can lose
//
// Samples not yet in a batch: at most BatchSize-1 of them, taken during at
// most FlushInterval. A batch is fsynced before it is sent, so neither a
// killed process nor a power cut loses one that was sent. An
// acknowledgement is not fsynced: after a power cut its batch is sent
// again, and stored once.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetapi/fleetapi/client"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

// Limits of a batch.
const (
	MinBatchSize = 10
	MaxBatchSize = 100
	// MaxPayloadBytes is AWS IoT Core's largest message (128 KB, "AWS IoT
	// Core message broker and protocol limits and quotas"), which the REST
	// API's body limit exceeds: a batch is sealed before it would be larger.
	MaxPayloadBytes = 128 * 1024
)

// Batch is one upload: the samples and their place in the journal.
type Batch struct {
	Seq     uint64
	Samples []client.Sample
}

// Payload is the batch as the API takes it: the body of createEvent, the
// message published over MQTT.
func (b Batch) Payload() ([]byte, error) {
	return json.Marshal(client.CreateEventJSONRequestBody{Samples: b.Samples})
}

// Uploader delivers one batch of a vehicle. nil means acknowledged; an
// error that wraps a *RejectedError means it never will be (the batch is
// set aside); any other error is retried.
type Uploader interface {
	Upload(ctx context.Context, b Batch) error
	Close() error
}

// RejectedError says the API refused a batch for good: 400, 413 or 422,
// the batch is not what the API takes (a sample too old for the retention,
// a signal out of its range). The agent sets the batch aside in its
// journal directory (rejected.jsonl) with the reason, and goes on with the
// next. Any other answer (a 403 too: a clock too far off, a certificate not
// yet attached) is retried, the batch kept.
type RejectedError struct {
	Status int
	Reason string
}

func (e *RejectedError) Error() string { return fmt.Sprintf("rejected (%d): %s", e.Status, e.Reason) }

// ErrJournalFull is Add's answer while the journal holds MaxJournalBytes:
// the vehicle has been offline long enough that keeping more would fill its
// disk. Nothing already journaled is dropped.
var ErrJournalFull = errors.New("agent: the journal is full")

// Config of an agent.
type Config struct {
	// Dir is the journal's directory, one per vehicle.
	Dir string
	// Uploader sends the batches: NewMQTTUploader or NewHTTPSUploader.
	Uploader Uploader
	// BatchSize is the number of samples of an upload, 10 to 100. Default 10.
	BatchSize int
	// FlushInterval seals a batch that is not full this long after its
	// first sample. Default 10 s.
	FlushInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed upload,
	// doubled each time, with jitter. Defaults 1 s and 1 minute.
	MinBackoff, MaxBackoff time.Duration
	// DrainTimeout is how long Run goes on sending after its context ends.
	// Default 5 s.
	DrainTimeout time.Duration
	// MaxJournalBytes bounds the journal on disk. Default 64 MiB (about
	// 13,000 ten-sample batches: 36 hours of driving).
	MaxJournalBytes int64
	// SegmentBytes is the size at which the journal starts a new segment.
	// Default 1 MiB.
	SegmentBytes int64
	// OnAck is called after each acknowledgement is journaled.
	OnAck  func(Batch)
	Logger *slog.Logger
}

// Recovery is what Open found in the journal.
type Recovery struct {
	// Batches and Samples not acknowledged: sent first.
	Batches, Samples int
	// TornBytes of a record a power cut left half-written, dropped.
	TornBytes int64
}

// Stats count an agent's work since it was opened.
type Stats struct {
	Samples          int64 // taken by Add
	Batches          int64 // sealed into the journal
	Attempts         int64 // uploads tried, replays and retries included
	Acked, AckedSamp int64 // batches and samples acknowledged
	Rejected         int64 // batches set aside
	RejectedSamples  int64 // samples set aside by Add, each alone
	Pending          int64 // batches in the journal, not acknowledged
}

// Agent batches, journals and uploads one vehicle's samples.
type Agent struct {
	cfg      Config
	log      *slog.Logger
	journal  *journal
	recovery Recovery

	mu       sync.Mutex // buffer, bufBytes, deadline
	buf      []client.Sample
	bufBytes int
	deadline time.Time // the buffer's flush time; zero when empty

	queue    chan struct{} // a batch was sealed
	qmu      sync.Mutex
	pending  []Batch // to send, oldest first
	draining bool    // Run's context ended: send stops once pending is empty

	samples, batches, attempts, acked, ackedSamples, rejected, rejectedSamples atomic.Int64
}

// Open opens the journal of cfg.Dir; what it holds of an earlier run is
// sent first when Run starts.
func Open(cfg Config) (*Agent, error) {
	if cfg.Dir == "" || cfg.Uploader == nil {
		return nil, errors.New("agent: Dir and Uploader are required")
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = MinBatchSize
	}
	if cfg.BatchSize < MinBatchSize || cfg.BatchSize > MaxBatchSize {
		return nil, fmt.Errorf("agent: BatchSize %d: allowed are %d to %d", cfg.BatchSize, MinBatchSize, MaxBatchSize)
	}
	defaults := []struct {
		d   *time.Duration
		def time.Duration
	}{{&cfg.FlushInterval, 10 * time.Second}, {&cfg.MinBackoff, time.Second}, {&cfg.MaxBackoff, time.Minute}, {&cfg.DrainTimeout, 5 * time.Second}}
	for _, d := range defaults {
		if *d.d <= 0 {
			*d.d = d.def
		}
	}
	if cfg.MaxJournalBytes <= 0 {
		cfg.MaxJournalBytes = 64 << 20
	}
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = 1 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	j, pending, rec, err := openJournal(cfg.Dir, cfg.SegmentBytes)
	if err != nil {
		return nil, err
	}
	if rec.Batches > 0 || rec.TornBytes > 0 {
		cfg.Logger.Info("journal replayed", "batches", rec.Batches, "samples", rec.Samples, "tornBytes", rec.TornBytes)
	}
	return &Agent{cfg: cfg, log: cfg.Logger, journal: j, recovery: rec, pending: pending, queue: make(chan struct{}, 1)}, nil
}

// Recovery says what the journal held when the agent was opened.
func (a *Agent) Recovery() Recovery { return a.recovery }

// Add takes a sample. A full batch is sealed into the journal before Add
// returns.
func (a *Agent) Add(s client.Sample) error {
	// A sample the API would refuse is set aside alone, never batched: a
	// batch holding it would be refused whole, its good samples too.
	if err := fleet.CheckSample(fleet.Sample{Timestamp: s.Timestamp, Signals: s.Signals}, time.Now()); err != nil {
		return a.rejectSample(s, err.Error())
	}
	enc, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("agent: sample: %w", err)
	}
	// {"samples":[…]}: 13 bytes around the samples, a comma between two.
	if len(enc)+13 > MaxPayloadBytes {
		return fmt.Errorf("agent: a sample of %d bytes exceeds an upload's %d", len(enc), MaxPayloadBytes)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.journal.size() >= a.cfg.MaxJournalBytes {
		return ErrJournalFull
	}
	if len(a.buf) > 0 && a.bufBytes+1+len(enc)+13 > MaxPayloadBytes {
		if err := a.sealLocked(); err != nil {
			return err
		}
	}
	// Two samples of one batch may not share a millisecond.
	ms := s.Timestamp.UnixMilli()
	for _, b := range a.buf {
		if b.Timestamp.UnixMilli() == ms {
			return a.rejectSample(s, fmt.Sprintf("samples: two samples have the timestamp %s", s.Timestamp.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano)))
		}
	}
	if len(a.buf) == 0 {
		a.deadline = time.Now().Add(a.cfg.FlushInterval)
	}
	a.buf = append(a.buf, s)
	a.bufBytes += len(enc) + 1
	a.samples.Add(1)
	if len(a.buf) >= a.cfg.BatchSize {
		return a.sealLocked()
	}
	return nil
}

// Flush seals the samples taken so far into a batch, full or not.
func (a *Agent) Flush() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sealLocked()
}

func (a *Agent) sealLocked() error {
	if len(a.buf) == 0 {
		return nil
	}
	b, err := a.journal.append(a.buf)
	if err != nil {
		return err
	}
	a.buf, a.bufBytes, a.deadline = nil, 0, time.Time{}
	a.batches.Add(1)
	a.qmu.Lock()
	a.pending = append(a.pending, b)
	a.qmu.Unlock()
	select {
	case a.queue <- struct{}{}:
	default:
	}
	return nil
}

// Stats returns the counts so far.
func (a *Agent) Stats() Stats {
	a.qmu.Lock()
	pending := int64(len(a.pending))
	a.qmu.Unlock()
	return Stats{Samples: a.samples.Load(), Batches: a.batches.Load(), Attempts: a.attempts.Load(), Acked: a.acked.Load(),
		AckedSamp: a.ackedSamples.Load(), Rejected: a.rejected.Load(), RejectedSamples: a.rejectedSamples.Load(), Pending: pending}
}

// Run sends the journal's batches, oldest first, one at a time, and seals a
// batch when its flush interval is over, until ctx ends; then it seals the
// samples taken, goes on sending for DrainTimeout, and closes the journal
// and the uploader. What is not acknowledged by then stays in the journal.
func (a *Agent) Run(ctx context.Context) error {
	drain, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	done := make(chan error, 1)
	go func() { done <- a.send(drain) }()
	tick := time.NewTicker(max(a.cfg.FlushInterval/10, time.Millisecond))
	defer tick.Stop()
	var err error
	sending := true
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err = <-done: // the journal failed: nothing more can be acknowledged
			sending = false
			break loop
		case now := <-tick.C:
			a.mu.Lock()
			if !a.deadline.IsZero() && !now.Before(a.deadline) {
				err = a.sealLocked()
			}
			a.mu.Unlock()
			if err != nil {
				break loop
			}
		}
	}
	if ferr := a.Flush(); err == nil {
		err = ferr
	}
	if sending {
		// Drain: send what is pending for DrainTimeout at most.
		timer := time.AfterFunc(a.cfg.DrainTimeout, stop)
		defer timer.Stop()
		a.qmu.Lock()
		a.draining = true
		a.qmu.Unlock()
		select {
		case a.queue <- struct{}{}:
		default:
		}
		if serr := <-done; err == nil && !errors.Is(serr, context.Canceled) {
			err = serr
		}
	}
	if cerr := a.cfg.Uploader.Close(); err == nil {
		err = cerr
	}
	if cerr := a.journal.close(); err == nil {
		err = cerr
	}
	return err
}

// send uploads the pending batches until ctx ends, or, once draining, until
// none is left.
func (a *Agent) send(ctx context.Context) error {
	backoff := a.cfg.MinBackoff
	for {
		a.qmu.Lock()
		var b Batch
		next := len(a.pending) > 0
		if next {
			b = a.pending[0] // a copy: Add appends to pending meanwhile
		}
		draining := a.draining
		a.qmu.Unlock()
		if !next {
			if draining {
				return nil
			}
			select {
			case <-a.queue:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		a.attempts.Add(1)
		err := a.cfg.Uploader.Upload(ctx, b)
		var rejected *RejectedError
		switch {
		case err == nil:
		case errors.As(err, &rejected):
			a.log.Error("upload rejected: set aside", "seq", b.Seq, "samples", len(b.Samples), "status", rejected.Status, "reason", rejected.Reason)
			if err := a.setAside(b, rejected); err != nil {
				return err
			}
			a.rejected.Add(1)
		default:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			wait := backoff/2 + rand.N(backoff/2+1)
			a.log.Warn("upload failed: retrying", "seq", b.Seq, "in", wait.String(), "error", err.Error())
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
			backoff = min(2*backoff, a.cfg.MaxBackoff)
			continue
		}
		backoff = a.cfg.MinBackoff
		if err := a.journal.ack(b.Seq); err != nil {
			return err
		}
		a.qmu.Lock()
		a.pending = a.pending[1:]
		a.qmu.Unlock()
		if rejected == nil {
			a.acked.Add(1)
			a.ackedSamples.Add(int64(len(b.Samples)))
			if a.cfg.OnAck != nil {
				a.cfg.OnAck(b)
			}
		}
	}
}

// RejectedFile is where the agent sets aside the batches the API refused
// for good, and the samples it would refuse, in its journal's directory:
// one JSON object a line.
const RejectedFile = "rejected.jsonl"

// ErrSampleRejected is what Add returns for a sample the API would
// refuse (out of range, in the future, a bad signal name, a millisecond
// of another sample of the batch): set aside in RejectedFile, alone.
var ErrSampleRejected = errors.New("agent: sample set aside: the API would refuse it")

// rejectSample sets a sample aside alone, with why.
func (a *Agent) rejectSample(s client.Sample, why string) error {
	if err := a.setAside(Batch{Samples: []client.Sample{s}}, &RejectedError{Status: 400, Reason: why}); err != nil {
		return err
	}
	a.rejectedSamples.Add(1)
	return fmt.Errorf("%w: %s", ErrSampleRejected, why)
}

// setAside appends a rejected batch to RejectedFile, fsynced before the
// journal forgets it.
func (a *Agent) setAside(b Batch, why *RejectedError) error {
	line, err := json.Marshal(struct {
		Seq     uint64          `json:"seq"`
		Status  int             `json:"status"`
		Reason  string          `json:"reason"`
		At      time.Time       `json:"at"`
		Samples []client.Sample `json:"samples"`
	}{b.Seq, why.Status, why.Reason, time.Now().UTC(), b.Samples})
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	path := filepath.Join(a.cfg.Dir, RejectedFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("agent: %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("agent: %s: %w", path, err)
	}
	return nil
}
