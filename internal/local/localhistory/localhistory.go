// Package localhistory keeps make local's history as a stage's bucket
// keeps it: the history writer's objects as files under a directory (the
// same keys, day=YYYY-MM-DD/hour=HH/NAME.parquet), and the records it
// could not decode as lines of a file, as the failure queue keeps them.
package localhistory

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/fleetapi/fleetapi/internal/runtime/history"
)

// Dir is a directory standing in for the history bucket.
type Dir struct{ Root string }

// Put writes body at key below the root, replacing a file of that key at
// once (a rename), as S3 replaces an object: a reader never sees half.
func (d Dir) Put(_ context.Context, key string, body []byte) error {
	name := filepath.Join(d.Root, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return fmt.Errorf("localhistory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), ".put-*")
	if err != nil {
		return fmt.Errorf("localhistory: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(body); err != nil {
		tmp.Close()
		return fmt.Errorf("localhistory: write %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("localhistory: write %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return fmt.Errorf("localhistory: %w", err)
	}
	return nil
}

// FailureFile keeps each failure as a JSON line of a file.
type FailureFile struct {
	Path string
	mu   sync.Mutex
}

// Keep appends f to the file.
func (f *FailureFile) Keep(_ context.Context, r history.Failure) error {
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("localhistory: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
		return fmt.Errorf("localhistory: %w", err)
	}
	file, err := os.OpenFile(f.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("localhistory: %w", err)
	}
	if _, err := file.Write(append(line, '\n')); err != nil {
		file.Close()
		return fmt.Errorf("localhistory: %w", err)
	}
	return file.Close()
}
