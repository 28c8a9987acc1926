// Command localapi runs the whole API on this machine, as the deployed
// stage would serve it (package localapi), on a DynamoDB-compatible server
// (dynalite) that keeps its data on disk: `make local`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fleetapi/fleetapi/internal/dynalite"
	"github.com/fleetapi/fleetapi/internal/dynamostore"
	"github.com/fleetapi/fleetapi/internal/localapi"
	"github.com/fleetapi/fleetapi/internal/schema"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "where the API listens")
	data := flag.String("data", ".local/dynalite", "directory of the local DynamoDB's data")
	dbPort := flag.Int("dynamodb-port", 8000, "port of the local DynamoDB on 127.0.0.1")
	noAuth := flag.Bool("no-auth", false, "accept unsigned requests (for curl)")
	retention := flag.Int("event-retention-days", 30, "event retention, as a stage's")
	docs := flag.String("docs", "", "the API reference to serve at /docs (make docs renders it)")
	flag.Parse()
	if err := run(*addr, *data, *dbPort, *noAuth, *retention, *docs); err != nil {
		fmt.Fprintln(os.Stderr, "localapi:", err)
		os.Exit(1)
	}
}

// creds are the local credentials: a signed client uses them as
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, for service execute-api.
var creds = localapi.Credentials

func run(addr, data string, dbPort int, noAuth bool, retentionDays int, docs string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s (in use? pass -addr): %w", addr, err)
	}
	srv, err := dynalite.Start(ctx, dynalite.Options{Port: dbPort, Path: data, Stderr: os.Stderr})
	if err != nil {
		ln.Close()
		return fmt.Errorf("local DynamoDB on 127.0.0.1:%d (in use? pass -dynamodb-port): %w", dbPort, err)
	}
	defer srv.Stop()
	db := srv.Client()
	tables := dynamostore.Tables{Vehicles: "fleetapi-local-vehicles", Events: "fleetapi-local-vehicleEvents"}
	for name, t := range map[string]schema.Table{tables.Vehicles: schema.Vehicles, tables.Events: schema.VehicleEvents} {
		if err := dynalite.CreateTable(ctx, db, name, t); err != nil {
			return err
		}
	}
	store, err := dynamostore.New(db, tables, []byte("fleetapi-local-cursor-key-0123456789"))
	if err != nil {
		return err
	}
	cfg := localapi.Config{Vehicles: store, Events: store, EventRetention: time.Duration(retentionDays) * 24 * time.Hour,
		Logger: slog.New(slog.NewJSONHandler(os.Stdout, nil))}
	if !noAuth {
		cfg.Credentials = &creds
	}
	if docs != "" {
		if cfg.DocsHTML, err = os.ReadFile(docs); err != nil {
			return fmt.Errorf("the API reference: %w", err)
		}
	}
	api, err := localapi.New(cfg)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	var dbDied error
	shutdownDone := make(chan struct{})
	go func() {
		defer close(shutdownDone)
		select {
		case <-ctx.Done():
		case <-srv.Done():
			// Without its DynamoDB the API answers nothing but 503s: stop,
			// and say why, rather than look alive.
			dbDied = fmt.Errorf("the local DynamoDB exited (%v); its output is above", srv.Err())
		}
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(shutdown)
	}()
	fmt.Fprintf(os.Stderr, "FleetApi on http://%s (stage %s, reference at /docs), DynamoDB on %s with its data in %s\n", ln.Addr(), localapi.Stage, srv.Endpoint, data)
	if noAuth {
		fmt.Fprintln(os.Stderr, "requests need no signature (-no-auth)")
	} else {
		fmt.Fprintf(os.Stderr, "sign requests with SigV4 for service execute-api:\n  export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s\n", creds.AccessKeyID, creds.SecretAccessKey)
	}
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-shutdownDone
	if dbDied != nil {
		return dbDied
	}
	fmt.Fprintln(os.Stderr, "stopped")
	return nil
}
