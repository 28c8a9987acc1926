// Package dynamostore keeps vehicles, their events and their latest state
// in the DynamoDB tables.
package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/fleetapi/fleetapi/internal/runtime/cursor"
	"github.com/fleetapi/fleetapi/internal/runtime/samplecodec"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
	"github.com/fleetapi/fleetapi/internal/shared/schema"
)

// API is the part of *dynamodb.Client the store uses.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Tables names the tables.
type Tables struct {
	Vehicles string
	Events   string
	// State is the vehicles' state table; "" for a function that keeps
	// and reads no state.
	State string
}

// Store reads and writes vehicles and events. It is safe for concurrent use.
type Store struct {
	db      API
	tables  Tables
	cursors *lazyCursors // nil: the Store lists nothing
	codec   *samplecodec.Codec
	// eventAbsent conditions a new event's put, built once: it is the
	// same for every upload.
	eventAbsent expression.Expression
	// known are the vehicles found registered.
	known *knownVehicles
}

// MaxKnownVehicles bounds the vehicles a Store remembers as registered
// (about 8 MB of a function's memory); past it, it starts over.
const MaxKnownVehicles = 100_000

// knownVehicles remembers the vids a Store found registered, so that the
// next upload of one reads no vehicle item: vehicles are never deleted (no
// operation deletes one), so a vehicle found once stays registered. An
// upload of a vehicle not registered is read every time. A function's
// Store lives as long as its execution environment, which Lambda keeps
// for many invocations (and replaces every few hours even when invoked
// continuously, "Understanding the Lambda execution environment
// lifecycle"): a vehicle's trip reads its item once per environment.
type knownVehicles struct {
	mu   sync.Mutex
	vids map[string]struct{}
}

func (k *knownVehicles) has(vid string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.vids[vid]
	return ok
}

func (k *knownVehicles) add(vid string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.vids) >= MaxKnownVehicles {
		clear(k.vids)
	}
	k.vids[vid] = struct{}{}
}

// errNoCursorKey is returned by listings of a Store made without a cursor key.
var errNoCursorKey = errors.New("dynamostore: listings need a cursor key")

// New returns a Store on db; cursorKey signs pagination cursors. A function
// that lists nothing passes nil and needs no access to the key.
func New(db API, tables Tables, cursorKey []byte) (*Store, error) {
	if cursorKey == nil {
		return NewWithCursorKey(db, tables, nil)
	}
	codec, err := cursor.New(cursorKey)
	if err != nil {
		return nil, fmt.Errorf("dynamostore: %w", err)
	}
	s, err := NewWithCursorKey(db, tables, func(context.Context) ([]byte, error) { return cursorKey, nil })
	if s != nil {
		s.cursors.codec = codec
	}
	return s, err
}

// CursorKey returns the key that signs pagination cursors.
type CursorKey func(ctx context.Context) ([]byte, error)

// NewWithCursorKey returns a Store whose cursor key is loaded by load when
// a listing first needs it (to continue from a cursor or to give one), not
// before: a cold start then reads no secret, and a listing that fits one
// page never does. A failed load is tried again by the next listing.
func NewWithCursorKey(db API, tables Tables, load CursorKey) (*Store, error) {
	if tables.Vehicles == "" || tables.Events == "" {
		return nil, errors.New("dynamostore: both table names are required")
	}
	eventAbsent, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name(schema.EventID))).Build()
	if err != nil {
		return nil, fmt.Errorf("dynamostore: build condition: %w", err)
	}
	s := &Store{db: db, tables: tables, codec: samplecodec.New(), eventAbsent: eventAbsent, known: &knownVehicles{vids: map[string]struct{}{}}}
	if load != nil {
		s.cursors = &lazyCursors{load: load}
	}
	return s, nil
}

// lazyCursors builds the cursor codec from its key on first use.
type lazyCursors struct {
	load  CursorKey
	mu    sync.Mutex
	codec *cursor.Codec
}

func (l *lazyCursors) get(ctx context.Context) (*cursor.Codec, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.codec != nil {
		return l.codec, nil
	}
	key, err := l.load(ctx)
	if err != nil {
		return nil, classify("load the cursor key", err)
	}
	codec, err := cursor.New(key)
	if err != nil {
		return nil, fmt.Errorf("dynamostore: %w", err)
	}
	l.codec = codec
	return codec, nil
}

// classify maps DynamoDB's errors to the domain's: throttling, service
// faults and an unreachable endpoint become fleet.ErrUnavailable so that
// clients are told to retry. The SDK gives up before MaxAttempts once its
// client-wide retry quota is spent (QuotaExceededError), which a warm
// function reaches after a few dozen failed calls in an outage: that too is
// "retry later", not a bug of ours.
func classify(op string, err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
			"InternalServerError", "ServiceUnavailable", "LimitExceededException":
			return fmt.Errorf("%s: %w: %w", op, fleet.ErrUnavailable, err)
		}
	}
	var (
		maxAttempts *retry.MaxAttemptsError
		quota       ratelimit.QuotaExceededError
		send        *smithyhttp.RequestSendError
	)
	if errors.As(err, &maxAttempts) || errors.As(err, &quota) || errors.As(err, &send) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w: %w", op, fleet.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// keyS returns a key of string attributes.
func keyS(kv ...string) map[string]types.AttributeValue {
	key := make(map[string]types.AttributeValue, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		key[kv[i]] = &types.AttributeValueMemberS{Value: kv[i+1]}
	}
	return key
}

// stringKey turns a LastEvaluatedKey into cursor content.
func stringKey(key map[string]types.AttributeValue) (map[string]string, error) {
	out := make(map[string]string, len(key))
	for k, v := range key {
		s, ok := v.(*types.AttributeValueMemberS)
		if !ok {
			return nil, fmt.Errorf("key attribute %s is not a string", k)
		}
		out[k] = s.Value
	}
	return out, nil
}

// startKey decodes a cursor back into an ExclusiveStartKey, requiring exactly
// the key attributes named.
func (s *Store) startKey(ctx context.Context, query, cur string, attrs ...string) (map[string]types.AttributeValue, error) {
	if s.cursors == nil {
		return nil, errNoCursorKey
	}
	if cur == "" {
		return nil, nil
	}
	codec, err := s.cursors.get(ctx)
	if err != nil {
		return nil, err
	}
	key, err := codec.Decode(query, cur)
	if err != nil || len(key) != len(attrs) {
		return nil, &fleet.ValidationError{Field: "cursor", Message: "is not a cursor of this listing"}
	}
	out := make(map[string]types.AttributeValue, len(attrs))
	for _, a := range attrs {
		v, ok := key[a]
		if !ok {
			return nil, &fleet.ValidationError{Field: "cursor", Message: "is not a cursor of this listing"}
		}
		out[a] = &types.AttributeValueMemberS{Value: v}
	}
	return out, nil
}

// nextCursor returns the cursor that continues query after item, made of
// the item's key attributes named.
func (s *Store) nextCursor(ctx context.Context, query string, item map[string]types.AttributeValue, attrs ...string) (string, error) {
	codec, err := s.cursors.get(ctx)
	if err != nil {
		return "", err
	}
	key := make(map[string]types.AttributeValue, len(attrs))
	for _, a := range attrs {
		key[a] = item[a]
	}
	k, err := stringKey(key)
	if err != nil {
		return "", err
	}
	return codec.Encode(query, k), nil
}

// pageFetcher runs one Query or Scan of at most n items from start and
// returns the items and DynamoDB's LastEvaluatedKey.
type pageFetcher func(start map[string]types.AttributeValue, n int32) ([]map[string]types.AttributeValue, map[string]types.AttributeValue, error)

// fetchPage gathers one page of limit items and tells whether there are
// more, by asking for one more item than the page. A response can stop
// short of its Limit (at 1 MB read), so it asks again from where the last
// one stopped until it has limit+1 items or DynamoDB has no more.
func fetchPage(limit int, start map[string]types.AttributeValue, fetch pageFetcher) (items []map[string]types.AttributeValue, more bool, err error) {
	for {
		got, last, err := fetch(start, int32(limit+1-len(items)))
		if err != nil {
			return nil, false, err
		}
		items = append(items, got...)
		if len(items) > limit {
			return items[:limit], true, nil
		}
		if len(last) == 0 {
			return items, false, nil
		}
		start = last
	}
}
