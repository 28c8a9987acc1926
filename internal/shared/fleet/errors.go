// Package fleet is the domain of the vehicle-telemetry API: vehicles, events
// of samples, their validation rules, and the stores that keep them.
package fleet

import (
	"errors"
	"fmt"
)

// Sentinel errors; test with errors.Is. Handlers map each to one status.
var (
	ErrInvalid            = errors.New("invalid request")
	ErrNotFound           = errors.New("not found")
	ErrConflict           = errors.New("conflict")
	ErrPreconditionFailed = errors.New("precondition failed")
	// ErrUnavailable means the store is throttled or down: retry later.
	ErrUnavailable = errors.New("temporarily unavailable")
	// ErrNoVehicle is an ErrNotFound of the vehicle itself (not of one of
	// its events): no vehicle of that vid is registered.
	ErrNoVehicle = fmt.Errorf("%w", ErrNotFound)
)

// ValidationError reports one invalid field. It matches ErrInvalid.
type ValidationError struct {
	// Field is a JSON path such as "samples[3].timestamp", or a parameter name.
	Field   string
	Message string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}
