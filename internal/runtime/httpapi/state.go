package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

// stateOperations are the reads of the vehicles' state, by their
// operationId in api/swagger.yaml.
var stateOperations = map[string]operation{
	"getVehicleState": {serve: (*Handler).getVehicleState, state: true},
	"listFleetState":  {serve: (*Handler).listFleetState, state: true, paginated: true},
}

type stateList struct {
	States     []fleet.VehicleState `json:"states"`
	NextCursor string               `json:"nextCursor,omitempty"`
}

func (h *Handler) getVehicleState(ctx context.Context, r *request) response {
	vid := r.pathParam("vid")
	if err := fleet.ValidateVID("vid", vid); err != nil {
		return errorResponse(err)
	}
	if _, err := r.query(); err != nil {
		return errorResponse(err)
	}
	st, err := h.cfg.States.GetState(ctx, vid)
	if err != nil {
		return errorResponse(err)
	}
	return response{status: http.StatusOK, body: st}
}

func (h *Handler) listFleetState(ctx context.Context, r *request) response {
	q, err := r.query("silentFor", "notSeenFor", "bbox", "limit", "cursor")
	if err != nil {
		return errorResponse(err)
	}
	sq := fleet.StateQuery{Limit: fleet.DefaultStateLimit, Cursor: q["cursor"]}
	if s, ok := q["limit"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > fleet.MaxStateLimit {
			return errorResponse(&fleet.ValidationError{Field: "limit", Message: fmt.Sprintf("must be a whole number from 1 to %d, got %q", fleet.MaxStateLimit, truncate(s))})
		}
		sq.Limit = n
	}
	if s, ok := q["silentFor"]; ok {
		if sq.SilentFor, err = fleet.ParseDuration("silentFor", s); err != nil {
			return errorResponse(err)
		}
	}
	if s, ok := q["notSeenFor"]; ok {
		if sq.NotSeenFor, err = fleet.ParseDuration("notSeenFor", s); err != nil {
			return errorResponse(err)
		}
	}
	if s, ok := q["bbox"]; ok {
		if sq.Within, err = fleet.ParseBoundingBox("bbox", s); err != nil {
			return errorResponse(err)
		}
	}
	page, err := h.cfg.States.ListStates(ctx, sq, r.now)
	if err != nil {
		return errorResponse(err)
	}
	return response{status: http.StatusOK, body: stateList{States: page.States, NextCursor: page.NextCursor}}
}
