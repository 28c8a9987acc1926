package dynalite

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetapi/fleetapi/internal/schema"
)

func TestStartCreateStop(t *testing.T) {
	ctx := context.Background()
	s, err := Start(ctx, Options{Instant: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Endpoint, "http://127.0.0.1:") {
		t.Errorf("endpoint %s is not on 127.0.0.1", s.Endpoint)
	}
	db := s.Client()
	if err := CreateTable(ctx, db, "events", schema.VehicleEvents); err != nil {
		t.Fatal(err)
	}
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("events")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, k := range out.Table.KeySchema {
		keys = append(keys, *k.AttributeName+":"+string(k.KeyType))
	}
	if got := strings.Join(keys, ","); got != "vid:HASH,eid:RANGE" {
		t.Errorf("key schema %s, want vid:HASH,eid:RANGE", got)
	}
	// Creating it again is not an error: the local run restarts on the same server.
	if err := CreateTable(ctx, db, "events", schema.VehicleEvents); err != nil {
		t.Errorf("second CreateTable: %v", err)
	}
	addr := strings.TrimPrefix(s.Endpoint, "http://")
	s.Stop()
	s.Stop() // idempotent
	if c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Stop", addr)
	}
}
