package dynamostore

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetapi/fleetapi/internal/shared/fleet"
	"github.com/fleetapi/fleetapi/internal/shared/schema"
)

// Attribute names of an event item besides its keys, kept to one letter:
// DynamoDB bills attribute names as item bytes.
const (
	attrReceivedAt = "r" // epoch milliseconds
	attrHash       = "h" // first bytes of the samples' SHA-256
	attrSamples    = "d" // samplecodec batch
	hashBytes      = 16
)

// checkVehicle says whether vid is registered: fleet.ErrNoVehicle if not.
// Vehicles are never deleted, so this check cannot race with a delete, and
// a vehicle found once needs no read again (knownVehicles).
func (s *Store) checkVehicle(ctx context.Context, vid string) error {
	if s.known.has(vid) {
		return nil
	}
	exists, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:            aws.String(s.tables.Vehicles),
		Key:                  keyS(schema.VehicleID, vid),
		ProjectionExpression: aws.String(schema.VehicleID),
	})
	if err != nil {
		return classify(fmt.Sprintf("check vehicle %q", vid), err)
	}
	if exists.Item == nil {
		return fmt.Errorf("vehicle %q: %w", vid, fleet.ErrNoVehicle)
	}
	s.known.add(vid)
	return nil
}

// PutEvent stores e unless an event with its eid exists. A retry of the same
// upload finds the stored event and returns it with Created false; the same
// eid with other samples (an idempotency key reused for another upload) is
// fleet.ErrConflict. The vehicle must exist: fleet.ErrNotFound otherwise.
func (s *Store) PutEvent(ctx context.Context, e fleet.Event) (fleet.PutResult, error) {
	if err := s.checkVehicle(ctx, e.VID); err != nil {
		return fleet.PutResult{}, err
	}

	out, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.tables.Events),
		Item:                     s.eventItem(e),
		ConditionExpression:      s.eventAbsent.Condition(),
		ExpressionAttributeNames: s.eventAbsent.Names(),
		ReturnConsumedCapacity:   types.ReturnConsumedCapacityTotal,
	})
	if isConditionFailed(err) {
		stored, getErr := s.GetEvent(ctx, e.VID, e.EID)
		if getErr != nil {
			return fleet.PutResult{}, getErr
		}
		if !bytes.Equal(stored.ContentHash, e.ContentHash[:hashBytes]) {
			return fleet.PutResult{}, fmt.Errorf("event %s of vehicle %q was stored with other samples: %w", e.EID, e.VID, fleet.ErrConflict)
		}
		return fleet.PutResult{Event: stored}, nil
	}
	if err != nil {
		return fleet.PutResult{}, classify(fmt.Sprintf("put event %s of vehicle %q", e.EID, e.VID), err)
	}
	res := fleet.PutResult{Event: e, Created: true}
	if out.ConsumedCapacity != nil && out.ConsumedCapacity.CapacityUnits != nil {
		res.WriteUnits = *out.ConsumedCapacity.CapacityUnits
	}
	return res, nil
}

func (s *Store) eventItem(e fleet.Event) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		schema.VehicleID:   &types.AttributeValueMemberS{Value: e.VID},
		schema.EventID:     &types.AttributeValueMemberS{Value: e.EID},
		schema.EventExpiry: &types.AttributeValueMemberN{Value: strconv.FormatInt(e.ExpiresAt.Unix(), 10)},
		attrReceivedAt:     &types.AttributeValueMemberN{Value: strconv.FormatInt(e.ReceivedAt.UnixMilli(), 10)},
		attrHash:           &types.AttributeValueMemberB{Value: e.ContentHash[:hashBytes]},
		attrSamples:        &types.AttributeValueMemberB{Value: s.codec.Encode(e.Samples)},
	}
}

func (s *Store) eventFromItem(item map[string]types.AttributeValue) (fleet.Event, error) {
	str := func(name string) string {
		if v, ok := item[name].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	num := func(name string) (int64, error) {
		v, ok := item[name].(*types.AttributeValueMemberN)
		if !ok {
			return 0, fmt.Errorf("attribute %s missing", name)
		}
		return strconv.ParseInt(v.Value, 10, 64)
	}
	bin := func(name string) []byte {
		if v, ok := item[name].(*types.AttributeValueMemberB); ok {
			return v.Value
		}
		return nil
	}
	e := fleet.Event{VID: str(schema.VehicleID), EID: str(schema.EventID), ContentHash: bin(attrHash)}
	expires, err := num(schema.EventExpiry)
	if err != nil {
		return fleet.Event{}, fmt.Errorf("event %s: %w", e.EID, err)
	}
	received, err := num(attrReceivedAt)
	if err != nil {
		return fleet.Event{}, fmt.Errorf("event %s: %w", e.EID, err)
	}
	if e.Samples, err = s.codec.Decode(bin(attrSamples)); err != nil {
		return fleet.Event{}, fmt.Errorf("event %s: %w", e.EID, err)
	}
	e.ExpiresAt = time.Unix(expires, 0).UTC()
	e.ReceivedAt = time.UnixMilli(received).UTC()
	e.Start, e.End = e.Samples[0].Timestamp, e.Samples[len(e.Samples)-1].Timestamp
	return e, nil
}

// GetEvent returns one event; fleet.ErrNotFound if there is none.
func (s *Store) GetEvent(ctx context.Context, vid, eid string) (fleet.Event, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.tables.Events),
		Key:            keyS(schema.VehicleID, vid, schema.EventID, eid),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return fleet.Event{}, classify(fmt.Sprintf("get event %s of vehicle %q", eid, vid), err)
	}
	if out.Item == nil {
		return fleet.Event{}, fmt.Errorf("event %s of vehicle %q: %w", eid, vid, fleet.ErrNotFound)
	}
	return s.eventFromItem(out.Item)
}

// ListEvents returns one page of a vehicle's events in a time range: a
// Query of one more event than the page, so that a next cursor means there
// is more.
func (s *Store) ListEvents(ctx context.Context, q fleet.EventQuery) (fleet.EventPage, error) {
	lo, hi := fleet.EventIDRange(q.From, q.To)
	// The cursor is bound to the query as the client asked it, so that it
	// cannot continue another; a default bound moves with the clock.
	asked := func(given bool, bound string) string {
		if given {
			return bound
		}
		return "default"
	}
	query := fmt.Sprintf("events|%s|%s|%s|%t", q.VID, asked(q.FromGiven, lo), asked(q.ToGiven, hi), q.NewestFirst)
	start, err := s.startKey(ctx, query, q.Cursor, schema.VehicleID, schema.EventID)
	if err != nil {
		return fleet.EventPage{}, err
	}
	if start != nil {
		// A cursor of a default range may lie outside today's range, and
		// DynamoDB refuses a start key outside the key condition.
		eid := start[schema.EventID].(*types.AttributeValueMemberS).Value
		before, after := eid < lo, eid > hi
		if q.NewestFirst {
			before, after = after, before
		}
		switch {
		case before: // every event left lies in the range: start at its edge
			start = nil
		case after: // nothing is left in the range
			return fleet.EventPage{Events: []fleet.Event{}}, nil
		}
	}
	keyCond := expression.Key(schema.VehicleID).Equal(expression.Value(q.VID)).
		And(expression.Key(schema.EventID).Between(expression.Value(lo), expression.Value(hi)))
	expr, err := expression.NewBuilder().WithKeyCondition(keyCond).Build()
	if err != nil {
		return fleet.EventPage{}, fmt.Errorf("build key condition: %w", err)
	}
	items, more, err := fetchPage(q.Limit, start, func(start map[string]types.AttributeValue, n int32) ([]map[string]types.AttributeValue, map[string]types.AttributeValue, error) {
		out, err := s.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.tables.Events),
			KeyConditionExpression:    expr.KeyCondition(),
			ExpressionAttributeNames:  expr.Names(),
			ExpressionAttributeValues: expr.Values(),
			Limit:                     aws.Int32(n),
			ScanIndexForward:          aws.Bool(!q.NewestFirst),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return nil, nil, classify(fmt.Sprintf("list events of vehicle %q", q.VID), err)
		}
		return out.Items, out.LastEvaluatedKey, nil
	})
	if err != nil {
		return fleet.EventPage{}, err
	}
	page := fleet.EventPage{Events: make([]fleet.Event, 0, len(items))}
	for _, item := range items {
		e, err := s.eventFromItem(item)
		if err != nil {
			return fleet.EventPage{}, err
		}
		page.Events = append(page.Events, e)
	}
	if more {
		if page.NextCursor, err = s.nextCursor(ctx, query, items[len(items)-1], schema.VehicleID, schema.EventID); err != nil {
			return fleet.EventPage{}, fmt.Errorf("list events: %w", err)
		}
	}
	return page, nil
}
