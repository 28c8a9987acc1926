package dynamostore

import (
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetapi/fleetapi/internal/runtime/samplecodec"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

// EventFromImage decodes the new image of a record of the events table's
// stream, as Lambda hands it to the tracker and the history writer.
func (s *Store) EventFromImage(image map[string]events.DynamoDBAttributeValue) (fleet.Event, error) {
	return s.eventFromItem(itemOf(image))
}

// EventCodec encodes and decodes the events table's items without a
// table: the history writer, which reads the stream and calls no table,
// decodes with it.
type EventCodec struct{ s *Store }

// NewEventCodec returns the codec of the items PutEvent writes.
func NewEventCodec() EventCodec { return EventCodec{&Store{codec: samplecodec.New()}} }

// EventFromImage decodes a stream record's new image.
func (c EventCodec) EventFromImage(image map[string]events.DynamoDBAttributeValue) (fleet.Event, error) {
	return c.s.EventFromImage(image)
}

// Item is the item PutEvent writes for e.
func (c EventCodec) Item(e fleet.Event) map[string]types.AttributeValue { return c.s.eventItem(e) }

// itemOf turns a stream record's image, as Lambda hands it, into the
// SDK's item.
func itemOf(image map[string]events.DynamoDBAttributeValue) map[string]types.AttributeValue {
	item := make(map[string]types.AttributeValue, len(image))
	for k, v := range image {
		item[k] = attributeValue(v)
	}
	return item
}

func attributeValue(v events.DynamoDBAttributeValue) types.AttributeValue {
	switch v.DataType() {
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}
	case events.DataTypeList:
		l := make([]types.AttributeValue, len(v.List()))
		for i, e := range v.List() {
			l[i] = attributeValue(e)
		}
		return &types.AttributeValueMemberL{Value: l}
	case events.DataTypeMap:
		return &types.AttributeValueMemberM{Value: itemOf(v.Map())}
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}
	default:
		return &types.AttributeValueMemberNULL{Value: true}
	}
}
