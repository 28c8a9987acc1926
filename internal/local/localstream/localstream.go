// Package localstream stands in, for make local and tests, for a DynamoDB
// stream of a table and the Lambda event source mapping that reads it:
// dynalite has no streams. Each item a put writes into the table becomes
// a stream record (INSERT, or MODIFY when it replaced an item), with its
// new image, as DynamoDB writes it for the view type NEW_IMAGE; a failed
// conditional put writes nothing, as in DynamoDB. The records reach the
// function in batches as Lambda gathers them: a batch is sent when it is
// full or when the batching window has passed since its first record, one
// batch at a time (one shard); a partial batch failure is retried from its
// record, then handed to OnFailure, as the mapping's on-failure
// destination would be.
package localstream

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetapi/fleetapi/internal/runtime/dynamostore"
)

// Handler is the function the mapping invokes: the batch's JSON in, as
// Lambda sends it, and Lambda's partial batch response out, or an error
// that fails the whole batch.
type Handler func(ctx context.Context, payload json.RawMessage) (any, error)

// Options configure a Stream as an event source mapping is configured.
type Options struct {
	// Window is the mapping's MaximumBatchingWindowInSeconds: how long a
	// batch waits for more records after its first. 0 sends each put's
	// record at once.
	Window time.Duration
	// BatchSize is the mapping's; default 100, Lambda's for DynamoDB.
	BatchSize int
	// Retries is the mapping's MaximumRetryAttempts of a failed batch (0:
	// 2, negative: none); RetryDelay the pause before each, default 1 s.
	Retries    int
	RetryDelay time.Duration
	// OnFailure receives the records of a batch given up on; nil logs them.
	OnFailure func(records []events.DynamoDBEventRecord)
	// StreamARN is the records' eventSourceARN.
	StreamARN string
	Logger    *slog.Logger
}

// Stream is one table's stream and its mapping to a Handler.
type Stream struct {
	opts    Options
	handler Handler
	mu      sync.Mutex
	pending []events.DynamoDBEventRecord
	seq     int64
	first   time.Time // when the pending batch's first record came
	wake    chan struct{}
	done    chan struct{}
	stopped chan struct{}
	// delivering is held while a batch is with the handler, so that
	// Flush returns only after it.
	delivering sync.Mutex
	closing    sync.Once
}

// New starts the mapping of a stream to handler; Close stops it.
func New(handler Handler, opts Options) *Stream {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 100
	}
	if opts.Retries == 0 {
		opts.Retries = 2
	}
	if opts.RetryDelay == 0 {
		opts.RetryDelay = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.StreamARN == "" {
		opts.StreamARN = "arn:aws:dynamodb:eu-west-1:000000000000:table/local/stream/local"
	}
	s := &Stream{opts: opts, handler: handler, wake: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
	go s.run()
	return s
}

// Table returns db with the puts into table recorded on the stream.
func (s *Stream) Table(db dynamostore.API, table string) dynamostore.API {
	return &recorder{API: db, table: table, stream: s}
}

type recorder struct {
	dynamostore.API
	table  string
	stream *Stream
}

func (r *recorder) PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if in.TableName == nil || *in.TableName != r.table {
		return r.API.PutItem(ctx, in, opts...)
	}
	// The old image tells an insert from a replacement; the caller gets
	// the answer it asked for.
	asked := in.ReturnValues
	withOld := *in
	withOld.ReturnValues = types.ReturnValueAllOld
	out, err := r.API.PutItem(ctx, &withOld, opts...)
	if err != nil {
		return out, err
	}
	name := events.DynamoDBOperationTypeInsert
	if len(out.Attributes) > 0 {
		name = events.DynamoDBOperationTypeModify
	}
	r.stream.record(name, in.Item)
	if asked != types.ReturnValueAllOld {
		out.Attributes = nil
	}
	return out, nil
}

func (s *Stream) record(name events.DynamoDBOperationType, item map[string]types.AttributeValue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	image := Image(item)
	keys := map[string]events.DynamoDBAttributeValue{}
	for _, k := range []string{"vid", "eid"} {
		if v, ok := image[k]; ok {
			keys[k] = v
		}
	}
	if len(s.pending) == 0 {
		s.first = time.Now()
	}
	s.pending = append(s.pending, events.DynamoDBEventRecord{
		AWSRegion: "eu-west-1", EventID: strconv.FormatInt(s.seq, 16), EventName: string(name), EventSource: "aws:dynamodb",
		EventVersion: "1.1", EventSourceArn: s.opts.StreamARN,
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: time.Now().Truncate(time.Second)},
			Keys:                        keys, NewImage: image, SequenceNumber: fmt.Sprintf("%021d", s.seq),
			StreamViewType: "NEW_IMAGE",
		},
	})
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run delivers the pending records in batches until Close.
func (s *Stream) run() {
	defer close(s.stopped)
	for {
		s.mu.Lock()
		n, wait := len(s.pending), s.opts.Window-time.Since(s.first)
		s.mu.Unlock()
		if n > 0 && (n >= s.opts.BatchSize || wait <= 0) {
			s.deliver()
			continue
		}
		var timer <-chan time.Time
		if n > 0 {
			timer = time.After(wait)
		}
		select {
		case <-s.done:
			return
		case <-s.wake:
		case <-timer:
		}
	}
}

// Flush sends every pending record now, batch by batch, and returns once
// the function has them: a test's "after the window".
func (s *Stream) Flush() {
	for {
		// Holding delivering: a batch the run loop took is with the
		// function until it is released.
		s.delivering.Lock()
		s.mu.Lock()
		n := len(s.pending)
		s.mu.Unlock()
		if n > 0 {
			s.deliverLocked()
		}
		s.delivering.Unlock()
		if n == 0 {
			return
		}
	}
}

// deliver hands one batch to the function, retrying a failure from the
// record it names.
func (s *Stream) deliver() {
	s.delivering.Lock()
	defer s.delivering.Unlock()
	s.deliverLocked()
}

// deliverLocked is deliver, delivering held.
func (s *Stream) deliverLocked() {
	s.mu.Lock()
	n := min(len(s.pending), s.opts.BatchSize)
	batch := append([]events.DynamoDBEventRecord(nil), s.pending[:n]...)
	s.pending = s.pending[n:]
	if len(s.pending) > 0 {
		s.first = time.Now()
	}
	s.mu.Unlock()
	for attempt := 0; len(batch) > 0; attempt++ {
		from, ok := s.invoke(batch)
		if ok {
			return
		}
		batch = batch[from:]
		if attempt >= s.opts.Retries {
			if s.opts.OnFailure != nil {
				s.opts.OnFailure(batch)
			} else {
				s.opts.Logger.Error("stream records given up on", "records", len(batch), "firstSequenceNumber", batch[0].Change.SequenceNumber)
			}
			return
		}
		select {
		case <-s.done:
			return
		case <-time.After(s.opts.RetryDelay):
		}
	}
}

// invoke sends a batch as Lambda does and reads the answer as Lambda
// does: the index of the record to retry from, or ok.
func (s *Stream) invoke(batch []events.DynamoDBEventRecord) (from int, ok bool) {
	payload, err := json.Marshal(events.DynamoDBEvent{Records: batch})
	if err != nil {
		panic(err) // records of attribute values always marshal
	}
	out, err := s.handler(context.Background(), payload)
	if err != nil {
		s.opts.Logger.Error("stream batch failed", "records", len(batch), "error", err.Error())
		return 0, false
	}
	var resp events.DynamoDBEventResponse
	if b, err := json.Marshal(out); err == nil {
		json.Unmarshal(b, &resp)
	}
	if len(resp.BatchItemFailures) == 0 {
		return 0, true
	}
	for i, r := range batch {
		if r.Change.SequenceNumber == resp.BatchItemFailures[0].ItemIdentifier {
			return i, false
		}
	}
	// An identifier of no record of the batch: Lambda retries it whole.
	return 0, false
}

// Close stops the mapping; records not yet sent are dropped, as a stream
// outlives a function that stops reading it.
func (s *Stream) Close() {
	s.closing.Do(func() { close(s.done) })
	<-s.stopped
}

// Image turns an item into a stream record's image, as Lambda hands it.
func Image(item map[string]types.AttributeValue) map[string]events.DynamoDBAttributeValue {
	out := make(map[string]events.DynamoDBAttributeValue, len(item))
	for k, v := range item {
		out[k] = image(v)
	}
	return out
}

func image(v types.AttributeValue) events.DynamoDBAttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value)
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value)
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = image(e)
		}
		return events.NewListAttribute(l)
	case *types.AttributeValueMemberM:
		return events.NewMapAttribute(Image(v.Value))
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value)
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value)
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value)
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value)
	default:
		return events.NewNullAttribute()
	}
}
