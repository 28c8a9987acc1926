package dynamostore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
	"github.com/fleetapi/fleetapi/internal/shared/schema"
)

const vehiclesQuery = "vehicles"

// Attributes of a vehicle's item that are not the vehicle's: the
// Idempotency-Key of the create that stored it and a hash of that create's
// body, so that a retry of it is told from another create of the vid.
const (
	attrCreateKey  = "createKey"
	attrCreateHash = "createHash"
)

// CreateVehicle stores a new vehicle at version 1. If the vid exists, a
// retry of the create that stored it (the same Idempotency-Key and body)
// gets that vehicle, Created false; any other create fleet.ErrConflict.
func (s *Store) CreateVehicle(ctx context.Context, in fleet.NewVehicle, now time.Time) (fleet.CreatedVehicle, error) {
	now = now.UTC().Truncate(time.Millisecond)
	v := fleet.Vehicle{
		VID: in.VID, Make: in.Make, Model: in.Model, Year: in.Year, Plate: in.Plate, Metadata: in.Metadata,
		CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	item, err := attributevalue.MarshalMap(v)
	if err != nil {
		return fleet.CreatedVehicle{}, fmt.Errorf("marshal vehicle %q: %w", v.VID, err)
	}
	var hash string
	if in.IdempotencyKey != "" {
		if hash, err = createHash(in); err != nil {
			return fleet.CreatedVehicle{}, err
		}
		item[attrCreateKey] = &types.AttributeValueMemberS{Value: in.IdempotencyKey}
		item[attrCreateHash] = &types.AttributeValueMemberS{Value: hash}
	}
	cond, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name(schema.VehicleID))).Build()
	if err != nil {
		return fleet.CreatedVehicle{}, fmt.Errorf("build condition: %w", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.tables.Vehicles),
		Item:                     item,
		ConditionExpression:      cond.Condition(),
		ExpressionAttributeNames: cond.Names(),
	})
	if isConditionFailed(err) {
		return s.replayCreate(ctx, in, hash)
	}
	if err != nil {
		return fleet.CreatedVehicle{}, classify(fmt.Sprintf("create vehicle %q", v.VID), err)
	}
	return fleet.CreatedVehicle{Vehicle: v, Created: true}, nil
}

// replayCreate answers a create whose vid exists: the stored vehicle when
// the same key and body stored it, else fleet.ErrConflict.
func (s *Store) replayCreate(ctx context.Context, in fleet.NewVehicle, hash string) (fleet.CreatedVehicle, error) {
	conflict := fmt.Errorf("vehicle %q already exists: %w", in.VID, fleet.ErrConflict)
	if in.IdempotencyKey == "" {
		return fleet.CreatedVehicle{}, conflict
	}
	// Strongly consistent: the item the failed condition saw.
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.tables.Vehicles), Key: keyS(schema.VehicleID, in.VID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return fleet.CreatedVehicle{}, classify(fmt.Sprintf("read vehicle %q after a failed create", in.VID), err)
	}
	key, _ := out.Item[attrCreateKey].(*types.AttributeValueMemberS)
	stored, _ := out.Item[attrCreateHash].(*types.AttributeValueMemberS)
	if key == nil || stored == nil || key.Value != in.IdempotencyKey || stored.Value != hash {
		return fleet.CreatedVehicle{}, conflict
	}
	var v fleet.Vehicle
	if err := attributevalue.UnmarshalMap(out.Item, &v); err != nil {
		return fleet.CreatedVehicle{}, fmt.Errorf("unmarshal vehicle %q: %w", in.VID, err)
	}
	return fleet.CreatedVehicle{Vehicle: v}, nil
}

// createHash is a SHA-256 of a create's body as decoded (encoding/json
// writes the metadata's keys sorted), hex.
func createHash(in fleet.NewVehicle) (string, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return "", fmt.Errorf("hash vehicle %q: %w", in.VID, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// GetVehicle returns a vehicle; fleet.ErrNotFound if there is none.
func (s *Store) GetVehicle(ctx context.Context, vid string) (fleet.Vehicle, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.tables.Vehicles),
		Key:       keyS(schema.VehicleID, vid),
	})
	if err != nil {
		return fleet.Vehicle{}, classify(fmt.Sprintf("get vehicle %q", vid), err)
	}
	if out.Item == nil {
		return fleet.Vehicle{}, fmt.Errorf("vehicle %q: %w", vid, fleet.ErrNoVehicle)
	}
	var v fleet.Vehicle
	if err := attributevalue.UnmarshalMap(out.Item, &v); err != nil {
		return fleet.Vehicle{}, fmt.Errorf("unmarshal vehicle %q: %w", vid, err)
	}
	return v, nil
}

// UpdateVehicle replaces the client-set fields of a vehicle and increments
// its version. With ifVersion > 0 the update applies only to that version
// (fleet.ErrPreconditionFailed otherwise); fleet.ErrNotFound if there is no
// such vehicle.
func (s *Store) UpdateVehicle(ctx context.Context, vid string, f fleet.VehicleFields, ifVersion int64, now time.Time) (fleet.Vehicle, error) {
	update := expression.
		Set(expression.Name("make"), expression.Value(f.Make)).
		Set(expression.Name("model"), expression.Value(f.Model)).
		Set(expression.Name("year"), expression.Value(f.Year)).
		Set(expression.Name("updatedAt"), expression.Value(now.UTC().Truncate(time.Millisecond))).
		Add(expression.Name("version"), expression.Value(1))
	if f.Plate != "" {
		update = update.Set(expression.Name("plate"), expression.Value(f.Plate))
	} else {
		update = update.Remove(expression.Name("plate"))
	}
	if len(f.Metadata) > 0 {
		update = update.Set(expression.Name("metadata"), expression.Value(f.Metadata))
	} else {
		update = update.Remove(expression.Name("metadata"))
	}
	cond := expression.AttributeExists(expression.Name(schema.VehicleID))
	if ifVersion > 0 {
		cond = cond.And(expression.Name("version").Equal(expression.Value(ifVersion)))
	}
	expr, err := expression.NewBuilder().WithUpdate(update).WithCondition(cond).Build()
	if err != nil {
		return fleet.Vehicle{}, fmt.Errorf("build update: %w", err)
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.tables.Vehicles),
		Key:                       keyS(schema.VehicleID, vid),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ReturnValues:              "ALL_NEW",
	})
	if isConditionFailed(err) {
		// Tell a missing vehicle from a stale version with one read; this
		// path is rare and keeps to the API every DynamoDB-compatible server has.
		current, getErr := s.GetVehicle(ctx, vid)
		if getErr != nil {
			return fleet.Vehicle{}, getErr
		}
		return fleet.Vehicle{}, fmt.Errorf("vehicle %q is at version %d, not %d: %w", vid, current.Version, ifVersion, fleet.ErrPreconditionFailed)
	}
	if err != nil {
		return fleet.Vehicle{}, classify(fmt.Sprintf("update vehicle %q", vid), err)
	}
	var v fleet.Vehicle
	if err := attributevalue.UnmarshalMap(out.Attributes, &v); err != nil {
		return fleet.Vehicle{}, fmt.Errorf("unmarshal vehicle %q: %w", vid, err)
	}
	return v, nil
}

// ListVehicles returns up to limit vehicles after cursor ("" for the first
// page): a bounded Scan of one more vehicle than the page, so that a next
// cursor means there is more.
func (s *Store) ListVehicles(ctx context.Context, limit int, cur string) (fleet.VehiclePage, error) {
	start, err := s.startKey(ctx, vehiclesQuery, cur, schema.VehicleID)
	if err != nil {
		return fleet.VehiclePage{}, err
	}
	// The synthetic vehicles are not the fleet's. DynamoDB filters after
	// its Limit (a page may come back short or empty with more to read):
	// fetchPage reads on until the page is full.
	notSynthetic, err := expression.NewBuilder().WithFilter(
		expression.Not(expression.Name(schema.VehicleID).BeginsWith(contract.SyntheticVIDPrefix))).Build()
	if err != nil {
		return fleet.VehiclePage{}, fmt.Errorf("list vehicles: %w", err)
	}
	items, more, err := fetchPage(limit, start, func(start map[string]types.AttributeValue, n int32) ([]map[string]types.AttributeValue, map[string]types.AttributeValue, error) {
		out, err := s.db.Scan(ctx, &dynamodb.ScanInput{
			TableName:                 aws.String(s.tables.Vehicles),
			Limit:                     aws.Int32(n),
			ExclusiveStartKey:         start,
			FilterExpression:          notSynthetic.Filter(),
			ExpressionAttributeNames:  notSynthetic.Names(),
			ExpressionAttributeValues: notSynthetic.Values(),
		})
		if err != nil {
			return nil, nil, classify("list vehicles", err)
		}
		return out.Items, out.LastEvaluatedKey, nil
	})
	if err != nil {
		return fleet.VehiclePage{}, err
	}
	page := fleet.VehiclePage{Vehicles: make([]fleet.Vehicle, 0, len(items))}
	if err := attributevalue.UnmarshalListOfMaps(items, &page.Vehicles); err != nil {
		return fleet.VehiclePage{}, fmt.Errorf("unmarshal vehicles: %w", err)
	}
	if more {
		if page.NextCursor, err = s.nextCursor(ctx, vehiclesQuery, items[len(items)-1], schema.VehicleID); err != nil {
			return fleet.VehiclePage{}, fmt.Errorf("list vehicles: %w", err)
		}
	}
	return page, nil
}
