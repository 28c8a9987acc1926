package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
)

// vehicleOperations are the operations of the vehicle registry, by their
// operationId in api/swagger.yaml.
var vehicleOperations = map[string]operation{
	"listVehicles":  {serve: (*Handler).listVehicles, paginated: true},
	"createVehicle": {serve: (*Handler).createVehicle},
	"getVehicle":    {serve: (*Handler).getVehicle},
	"updateVehicle": {serve: (*Handler).updateVehicle},
}

type vehicleList struct {
	Vehicles   []fleet.Vehicle `json:"vehicles"`
	NextCursor string          `json:"nextCursor,omitempty"`
}

func (h *Handler) listVehicles(ctx context.Context, r *request) response {
	q, err := r.query("limit", "cursor")
	if err != nil {
		return errorResponse(err)
	}
	limit, err := parseLimit(q)
	if err != nil {
		return errorResponse(err)
	}
	page, err := h.cfg.Vehicles.ListVehicles(ctx, limit, q["cursor"])
	if err != nil {
		return errorResponse(err)
	}
	return response{status: http.StatusOK, body: vehicleList{Vehicles: page.Vehicles, NextCursor: page.NextCursor}}
}

func (h *Handler) createVehicle(ctx context.Context, r *request) response {
	if _, err := r.query(); err != nil {
		return errorResponse(err)
	}
	var in fleet.NewVehicle
	if err := r.decodeJSON(&in); err != nil {
		return errorResponse(err)
	}
	in.IdempotencyKey = r.header("Idempotency-Key")
	if err := in.Validate(r.now); err != nil {
		return errorResponse(err)
	}
	if contract.IsSyntheticVID(in.VID) {
		return errorResponse(&fleet.ValidationError{Field: "vid", Message: fmt.Sprintf("%q is reserved: a vid beginning with %s is a synthetic vehicle's, registered by its stage", in.VID, contract.SyntheticVIDPrefix)})
	}
	c, err := h.cfg.Vehicles.CreateVehicle(ctx, in, r.now)
	if err != nil {
		return errorResponse(err)
	}
	status := http.StatusCreated
	if !c.Created {
		status = http.StatusOK // a retry of the create that stored it
	}
	return response{status: status, body: c.Vehicle, headers: map[string]string{"Location": "/vehicles/" + c.VID, "ETag": c.ETag()}}
}

func (h *Handler) getVehicle(ctx context.Context, r *request) response {
	vid := r.pathParam("vid")
	if err := fleet.ValidateVID("vid", vid); err != nil {
		return errorResponse(err)
	}
	if _, err := r.query(); err != nil {
		return errorResponse(err)
	}
	v, err := h.cfg.Vehicles.GetVehicle(ctx, vid)
	if err != nil {
		return errorResponse(err)
	}
	return response{status: http.StatusOK, body: v, headers: map[string]string{"ETag": v.ETag()}}
}

func (h *Handler) updateVehicle(ctx context.Context, r *request) response {
	vid := r.pathParam("vid")
	if err := fleet.ValidateVID("vid", vid); err != nil {
		return errorResponse(err)
	}
	if _, err := r.query(); err != nil {
		return errorResponse(err)
	}
	ifVersion, err := parseIfMatch(r.header("If-Match"))
	if err != nil {
		return errorResponse(err)
	}
	var in fleet.VehicleFields
	if err := r.decodeJSON(&in); err != nil {
		return errorResponse(err)
	}
	if err := in.Validate(r.now); err != nil {
		return errorResponse(err)
	}
	v, err := h.cfg.Vehicles.UpdateVehicle(ctx, vid, in, ifVersion, r.now)
	if err != nil {
		return errorResponse(err)
	}
	return response{status: http.StatusOK, body: v, headers: map[string]string{"ETag": v.ETag()}}
}

// parseIfMatch reads an If-Match header: "" or "*" (any version, 0) or one
// strong entity tag "N" as returned in ETag.
func parseIfMatch(h string) (int64, error) {
	h = strings.TrimSpace(h)
	if h == "" || h == "*" {
		return 0, nil
	}
	inner, ok := strings.CutPrefix(h, `"`)
	if ok {
		inner, ok = strings.CutSuffix(inner, `"`)
	}
	n, err := strconv.ParseInt(inner, 10, 64)
	if !ok || err != nil || n < 1 {
		return 0, &fleet.ValidationError{Field: "If-Match", Message: `must be the ETag of the vehicle, such as "3"`}
	}
	return n, nil
}
