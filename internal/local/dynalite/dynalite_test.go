package dynalite

import (
	"context"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetapi/fleetapi/internal/shared/schema"
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

// A server that dies on its own (a crash, a kill) closes Done and says how
// it ended: what make local watches to stop instead of answering 503s.
func TestDoneWhenTheServerDies(t *testing.T) {
	s, err := Start(context.Background(), Options{Instant: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	select {
	case <-s.Done():
		t.Fatal("Done is closed while the server runs")
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done is still open 10 s after the server was killed")
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Err() = %v, want the process's end (killed)", err)
	}
}

// A port in use is said, named, before any server is started: not Node's
// EADDRINUSE trace, and never another server on the port taken for this
// one (a second make local printed the first one's address as its own).
func TestPortInUseIsNamed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	srv, err := Start(context.Background(), Options{Port: port, Instant: true})
	if err == nil {
		srv.Stop()
		t.Fatalf("started on port %d, which is in use", port)
	}
	if want := fmt.Sprintf("port %d of 127.0.0.1 is in use", port); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to say %q", err, want)
	}
}
