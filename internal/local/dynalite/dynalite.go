// Package dynalite runs a local DynamoDB-compatible server (the npm package
// dynalite, installed from package-lock.json) on 127.0.0.1 for tests and the
// local run, and creates the FleetApi tables in it from package schema.
//
// dynalite has no TransactWriteItems and no UpdateTimeToLive: the store does
// not use the former, and TTL is only an attribute here.
package dynalite

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetapi/fleetapi/internal/local/nodetool"
	"github.com/fleetapi/fleetapi/internal/shared/schema"
)

// watchParent runs dynalite's command line (argv[1] is its path) and exits
// when standard input reaches its end.
const watchParent = `process.stdin.on("end", () => process.exit(0)); process.stdin.resume(); require(process.argv[1]);`

// Server is a running dynalite process.
type Server struct {
	// Endpoint is the server's URL, http://127.0.0.1:PORT.
	Endpoint string
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process has exited
	waitErr  error         // how it exited, once done is closed
}

// Options of Start.
type Options struct {
	// Port to listen on; 0 picks a free one.
	Port int
	// Instant makes table creation and deletion take no time, for tests.
	Instant bool
	// Path keeps the data in this directory, across restarts; "" keeps
	// it in memory.
	Path string
	// Stderr receives the server's output; nil discards it.
	Stderr *os.File
}

// Start launches dynalite and waits until it answers.
func Start(ctx context.Context, opts Options) (*Server, error) {
	root, err := nodetool.ModuleRoot()
	if err != nil {
		return nil, err
	}
	cli := filepath.Join(root, "node_modules", "dynalite", "cli.js")
	if _, err := os.Stat(cli); err != nil {
		return nil, fmt.Errorf("dynalite is not installed (%v): run `make install` or `npm ci`", err)
	}
	node := nodetool.Node(root)
	port := opts.Port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, err
		}
	} else if err := portFree(port); err != nil {
		// Said before the server is started: else it dies with Node's
		// EADDRINUSE trace, and the wait for it could take another
		// server on the port for it.
		return nil, err
	}
	// The server exits when its standard input closes, that is when this
	// process ends, even if it dies without calling Stop (a panicking test).
	args := []string{"-e", watchParent, cli, "--host", "127.0.0.1", "--port", strconv.Itoa(port)}
	if opts.Instant {
		args = append(args, "--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
	}
	if opts.Path != "" {
		if err := os.MkdirAll(opts.Path, 0o755); err != nil {
			return nil, fmt.Errorf("dynalite data directory: %w", err)
		}
		args = append(args, "--path", opts.Path)
	}
	cmd := exec.Command(node, args...)
	cmd.Stdout, cmd.Stderr = opts.Stderr, opts.Stderr
	if _, err := cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("start dynalite: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dynalite: %w", err)
	}
	s := &Server{Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, done: make(chan struct{})}
	go func() { s.waitErr = cmd.Wait(); close(s.done) }()
	if err := s.waitReady(ctx, net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("dynalite exited before listening on %s: %v", addr, s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("dynalite did not listen on %s: %w", addr, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// portFree says that port on 127.0.0.1 is in use, naming it, or nil.
func portFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("port %d of 127.0.0.1 is in use: %w", port, err)
	}
	return l.Close()
}

// Stop kills the server by its PID and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

// Done is closed when the server's process has exited, stopped or not:
// a long-running user (make local) ends with it rather than answer every
// request with a 503.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err says how the process exited, once Done is closed.
func (s *Server) Err() error {
	<-s.done
	return s.waitErr
}

// Client returns a DynamoDB client for the server. The credentials are
// fixed dummies: dynalite checks that a request is signed, not by whom.
func (s *Server) Client() *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}

// Tables are the names of a set of FleetApi tables (a test's, make
// local's, a benchmark's).
type Tables struct {
	Vehicles, Events, State string
}

// CreateTables creates the tables of t, each with the key schema the
// construct declares for it, unless it exists.
func CreateTables(ctx context.Context, db *dynamodb.Client, t Tables) error {
	for _, table := range []struct {
		name   string
		schema schema.Table
	}{{t.Vehicles, schema.Vehicles}, {t.Events, schema.VehicleEvents}, {t.State, schema.VehicleState}} {
		if err := CreateTable(ctx, db, table.name, table.schema); err != nil {
			return err
		}
	}
	return nil
}

// CreateTable creates a table named name with t's key schema, on demand,
// and waits until it is active.
func CreateTable(ctx context.Context, db *dynamodb.Client, name string, t schema.Table) error {
	attrs := []types.AttributeDefinition{{AttributeName: aws.String(t.PartitionKey), AttributeType: types.ScalarAttributeTypeS}}
	keys := []types.KeySchemaElement{{AttributeName: aws.String(t.PartitionKey), KeyType: types.KeyTypeHash}}
	if t.SortKey != "" {
		attrs = append(attrs, types.AttributeDefinition{AttributeName: aws.String(t.SortKey), AttributeType: types.ScalarAttributeTypeS})
		keys = append(keys, types.KeySchemaElement{AttributeName: aws.String(t.SortKey), KeyType: types.KeyTypeRange})
	}
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: attrs,
		KeySchema:            keys,
		BillingMode:          types.BillingModePayPerRequest,
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	waiter := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 30*time.Second); err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
