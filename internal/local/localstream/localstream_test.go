package localstream

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetapi/fleetapi/internal/local/dynalite"
)

var db *dynamodb.Client

func TestMain(m *testing.M) {
	os.Exit(dynalite.Main(m, func(c *dynamodb.Client) { db = c }))
}

// batches collects what the mapping sends, answering with answer.
type batches struct {
	mu     sync.Mutex
	got    []events.DynamoDBEvent
	answer func(events.DynamoDBEvent) (any, error)
}

func (b *batches) handle(_ context.Context, p json.RawMessage) (any, error) {
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(p, &ev); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.got = append(b.got, ev)
	answer := b.answer
	b.mu.Unlock()
	if answer != nil {
		return answer(ev)
	}
	return nil, nil
}

func (b *batches) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.got)
}

func put(t *testing.T, api interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}, table, vid, eid string, onlyNew bool) error {
	t.Helper()
	in := &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
		"vid": &types.AttributeValueMemberS{Value: vid}, "eid": &types.AttributeValueMemberS{Value: eid}, "d": &types.AttributeValueMemberB{Value: []byte{1, 2, 3}},
	}}
	if onlyNew {
		expr, _ := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("eid"))).Build()
		in.ConditionExpression, in.ExpressionAttributeNames = expr.Condition(), expr.Names()
	}
	_, err := api.PutItem(context.Background(), in)
	return err
}

// A put of a new item is an INSERT with its new image, binary attributes
// included; a put that replaced one a MODIFY; a conditional put refused
// writes no record, as DynamoDB writes none.
func TestRecords(t *testing.T) {
	tables := dynalite.NewTables(t, db)
	var b batches
	s := New(b.handle, Options{Window: time.Hour})
	defer s.Close()
	api := s.Table(db, tables.Events)
	if err := put(t, api, tables.Events, "car-1", "1", true); err != nil {
		t.Fatal(err)
	}
	var ccf *types.ConditionalCheckFailedException
	if err := put(t, api, tables.Events, "car-1", "1", true); !errors.As(err, &ccf) {
		t.Fatalf("the second conditional put: %v", err)
	}
	if err := put(t, api, tables.Events, "car-1", "1", false); err != nil {
		t.Fatal(err)
	}
	// Another table's puts are not recorded.
	if err := put(t, api, tables.Vehicles, "car-1", "1", false); err != nil {
		t.Fatal(err)
	}
	s.Flush()
	if b.count() != 1 || len(b.got[0].Records) != 2 {
		t.Fatalf("batches %+v, want one of two records", b.got)
	}
	insert, modify := b.got[0].Records[0], b.got[0].Records[1]
	if insert.EventName != "INSERT" || modify.EventName != "MODIFY" || insert.EventSource != "aws:dynamodb" {
		t.Errorf("records %s, %s from %s; want INSERT, MODIFY from aws:dynamodb", insert.EventName, modify.EventName, insert.EventSource)
	}
	if string(insert.Change.NewImage["d"].Binary()) != "\x01\x02\x03" || insert.Change.Keys["eid"].String() != "1" {
		t.Errorf("the new image: %+v", insert.Change)
	}
	if insert.Change.SequenceNumber >= modify.Change.SequenceNumber {
		t.Errorf("sequence numbers %s, %s do not increase", insert.Change.SequenceNumber, modify.Change.SequenceNumber)
	}
}

// A batch waits for the window after its first record, unless it fills.
func TestBatchingWindow(t *testing.T) {
	tables := dynalite.NewTables(t, db)
	var b batches
	s := New(b.handle, Options{Window: 300 * time.Millisecond, BatchSize: 3})
	defer s.Close()
	api := s.Table(db, tables.Events)
	put(t, api, tables.Events, "car-1", "1", false)
	put(t, api, tables.Events, "car-1", "2", false)
	time.Sleep(100 * time.Millisecond)
	if b.count() != 0 {
		t.Error("a batch was sent before its window")
	}
	time.Sleep(400 * time.Millisecond)
	if b.count() != 1 {
		t.Fatalf("after the window: %d batches, want 1", b.count())
	}
	for i := range 3 {
		put(t, api, tables.Events, "car-2", string(rune('a'+i)), false)
	}
	time.Sleep(100 * time.Millisecond)
	if b.count() != 2 || len(b.got[1].Records) != 3 {
		t.Errorf("a full batch: %d batches, want it sent before the window", b.count())
	}
}

// A partial batch failure is sent again from its record, and given up on
// after the retries.
func TestRetryFromTheFailedRecord(t *testing.T) {
	tables := dynalite.NewTables(t, db)
	var b batches
	b.answer = func(ev events.DynamoDBEvent) (any, error) {
		return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: ev.Records[len(ev.Records)-1].Change.SequenceNumber}}}, nil
	}
	var given []events.DynamoDBEventRecord
	s := New(b.handle, Options{Window: time.Hour, Retries: 2, RetryDelay: time.Millisecond, OnFailure: func(r []events.DynamoDBEventRecord) { given = r }})
	defer s.Close()
	api := s.Table(db, tables.Events)
	for _, eid := range []string{"1", "2", "3"} {
		put(t, api, tables.Events, "car-1", eid, false)
	}
	s.Flush()
	if b.count() != 3 || len(b.got[0].Records) != 3 || len(b.got[1].Records) != 1 || len(b.got[2].Records) != 1 {
		t.Errorf("sent %d batches, want the batch then its last record twice", b.count())
	}
	if len(given) != 1 || given[0].Change.Keys["eid"].String() != "3" {
		t.Errorf("given up on %+v, want the last record", given)
	}
}
