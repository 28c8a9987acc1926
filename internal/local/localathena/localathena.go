// Package localathena stands in for Athena over make local's history: the
// history's table (api/history's columns and partition keys) over the
// Parquet files the writer left below a directory, queried with DuckDB
// (npm @duckdb/node-api, pinned in package.json; query.mjs). As a stage's
// workgroup does, it runs one read-only SELECT and refuses a query that
// reads more than its bytes scanned limit; the SQL of api/history's
// example queries runs unchanged in both.
package localathena

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/fleetapi/fleetapi/internal/local/nodetool"
)

// DefaultScanLimit is a stage's bytes scanned limit per query, 10 GB.
const DefaultScanLimit = 10_000_000_000

// ErrRefused is a query refused before or after it ran: not one read-only
// SELECT, or over the scan limit. Its error says which.
var ErrRefused = errors.New("query refused")

// Result is a query's answer.
type Result struct {
	Columns []string `json:"columns"`
	// Rows are the values as JSON has them: numbers, strings (BIGINTs,
	// timestamps as "2026-11-26 08:00:00"), or nil.
	Rows [][]any `json:"rows"`
	// BytesScanned is what the query read of the files, DuckDB's own
	// count.
	BytesScanned int64 `json:"bytesScanned"`
}

// Query runs sql over the history below root (where the writer's
// samples/day=.../hour=... are) with a limit of bytes scanned.
func Query(ctx context.Context, root, sql string, limit int64) (Result, error) {
	mod, err := nodetool.ModuleRoot()
	if err != nil {
		return Result{}, err
	}
	script := filepath.Join(mod, "internal", "local", "localathena", "query.mjs")
	cmd := exec.CommandContext(ctx, nodetool.Node(mod), script, root, strconv.FormatInt(limit, 10))
	cmd.Stdin = strings.NewReader(sql)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Result{}, fmt.Errorf("localathena: DuckDB (is @duckdb/node-api installed? make install): %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var answer struct {
		Result
		Error   string `json:"error"`
		Refused bool   `json:"refused"`
	}
	if err := json.Unmarshal(out, &answer); err != nil {
		return Result{}, fmt.Errorf("localathena: DuckDB's answer: %w", err)
	}
	switch {
	case answer.Refused:
		return Result{}, fmt.Errorf("%w: %s", ErrRefused, answer.Error)
	case answer.Error != "":
		return Result{}, fmt.Errorf("localathena: %s", answer.Error)
	}
	return answer.Result, nil
}
