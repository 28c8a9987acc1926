package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetapi/fleetapi/internal/runtime/authz"
	"github.com/fleetapi/fleetapi/internal/runtime/ingest"
	"github.com/fleetapi/fleetapi/internal/shared/contract"
	"github.com/fleetapi/fleetapi/internal/shared/fleet"
	"github.com/fleetapi/fleetapi/internal/shared/metrics"
)

// MaxBodyBytes bounds a request body; a larger one is refused with 413
// before it is decoded. 100 samples of the talk's size take about 50 KB.
const MaxBodyBytes = 128 << 10

// VehicleStore keeps vehicles.
type VehicleStore interface {
	CreateVehicle(ctx context.Context, v fleet.NewVehicle, now time.Time) (fleet.CreatedVehicle, error)
	GetVehicle(ctx context.Context, vid string) (fleet.Vehicle, error)
	UpdateVehicle(ctx context.Context, vid string, f fleet.VehicleFields, ifVersion int64, now time.Time) (fleet.Vehicle, error)
	ListVehicles(ctx context.Context, limit int, cursor string) (fleet.VehiclePage, error)
}

// StateStore keeps the vehicles' latest state.
type StateStore interface {
	GetState(ctx context.Context, vid string) (fleet.VehicleState, error)
	ListStates(ctx context.Context, q fleet.StateQuery, now time.Time) (fleet.StatePage, error)
}

// EventStore keeps events.
type EventStore interface {
	PutEvent(ctx context.Context, e fleet.Event) (fleet.PutResult, error)
	GetEvent(ctx context.Context, vid, eid string) (fleet.Event, error)
	ListEvents(ctx context.Context, q fleet.EventQuery) (fleet.EventPage, error)
}

// Config wires a Handler.
type Config struct {
	// Routes are the operations the handler serves: those the spec gives
	// its function. Any other is answered 404 (405 for another method of
	// one of their resources).
	Routes []contract.Route
	// Callers says who may call which operation, on which vehicle: every
	// request is checked against it before any store call. Required.
	Callers *authz.Policy
	// Vehicles, Events and States are the stores; each may be nil when
	// the operations do not use it.
	Vehicles VehicleStore
	Events   EventStore
	States   StateStore
	// EventRetention is how long events are kept (their TTL): the hot
	// window the reads serve.
	EventRetention time.Duration
	// History says where the samples older than the hot window are (a
	// reader's words, contract.DescribeHistory); "" when none are kept.
	History string
	// HistoryRetention is how long the history keeps a sample: an upload
	// may carry samples that old (0: EventRetention, no history).
	HistoryRetention time.Duration
	// Logger receives one structured line per request. Default: slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// FunctionName is the Lambda function's name: the dimension of the
	// metrics the handler writes into its log lines.
	FunctionName string
	// StoreTimeout bounds a request's store calls, and a deadline before
	// the invocation's leaves time to answer: a DynamoDB that never
	// answers holds a function this long, not until its timeout (each
	// call's attempts are bounded too: dynamostore.BoundedAttempts).
	// Default: 2 s.
	StoreTimeout time.Duration
}

// Margins of the store deadline before the invocation's: the function
// must still answer, or Lambda ends it at its timeout (billed whole) and
// API Gateway answers with its own 5xx.
const (
	minAnswerMargin = 100 * time.Millisecond
	maxAnswerMargin = time.Second
)

// Handler serves a set of operations. It holds no per-request state.
type Handler struct {
	cfg Config
	// byOperation and byPath find a request's operation: by the operation
	// name API Gateway puts in the request context, or by method and
	// resource.
	byOperation map[string]route
	byPath      map[string]route
	// ingest stores uploads, for the REST operation and the upload rule's
	// events; nil when the handler serves no operation that uploads.
	ingest *ingest.Service
}

type route struct {
	contract.Route
	operation
}

// operation is how the handler serves an operation of api/swagger.yaml;
// each is registered beside its code (vehicleOperations, eventOperations).
type operation struct {
	serve func(h *Handler, ctx context.Context, r *request) response
	// events marks an operation of the event store, state one of the
	// state store; the others use the vehicle store.
	events, state bool
	// paginated operations sign cursors: their store needs the cursor key.
	paginated bool
	// uploads marks the operation that stores uploads (through the ingest
	// service): a function that serves it also serves the upload rule's
	// events, whose messages are uploads too.
	uploads bool
}

func lookup(id string) (operation, bool) {
	for _, ops := range operationSets {
		if op, ok := ops[id]; ok {
			return op, true
		}
	}
	return operation{}, false
}

// operationSets are the operations the handler implements, by their
// operationId in api/swagger.yaml, registered beside their code.
var operationSets = []map[string]operation{vehicleOperations, eventOperations, stateOperations}

// Operations lists the operationIds the handler implements, sorted.
func Operations() []string {
	return slices.Sorted(func(yield func(string) bool) {
		for _, ops := range operationSets {
			for id := range ops {
				if !yield(id) {
					return
				}
			}
		}
	})
}

// Paginates reports whether any of the routes signs cursors, so that its
// store needs the cursor key; an operation without implementation does not.
func Paginates(routes []contract.Route) bool {
	return slices.ContainsFunc(routes, func(r contract.Route) bool {
		op, _ := lookup(r.Operation)
		return op.paginated
	})
}

// ReadsState reports whether any of the routes reads the vehicles' state,
// so that its store needs the state table.
func ReadsState(routes []contract.Route) bool {
	return slices.ContainsFunc(routes, func(r contract.Route) bool {
		op, _ := lookup(r.Operation)
		return op.state
	})
}

// New returns the handler of cfg.Operations.
func New(cfg Config) (*Handler, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.EventRetention <= 0 {
		return nil, errors.New("httpapi: EventRetention must be positive")
	}
	if cfg.Callers == nil {
		return nil, errors.New("httpapi: Callers is required: every request is checked against it")
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = 2 * time.Second
	}
	h := &Handler{cfg: cfg, byOperation: map[string]route{}, byPath: map[string]route{}}
	if len(cfg.Routes) == 0 {
		return nil, errors.New("httpapi: no operation to serve")
	}
	for _, rt := range cfg.Routes {
		op, ok := lookup(rt.Operation)
		if !ok {
			return nil, fmt.Errorf("httpapi: operation %s has no implementation: implemented are %s", rt.Operation, strings.Join(Operations(), ", "))
		}
		if op.state && cfg.States == nil || op.events && cfg.Events == nil || !op.events && !op.state && cfg.Vehicles == nil {
			return nil, fmt.Errorf("httpapi: operation %s needs its store", rt.Operation)
		}
		h.byOperation[rt.Operation] = route{Route: rt, operation: op}
		h.byPath[rt.Method+" "+rt.Resource] = route{Route: rt, operation: op}
		if op.uploads && h.ingest == nil {
			svc, err := ingest.New(cfg.Events, cfg.EventRetention, cfg.Now)
			if err != nil {
				return nil, fmt.Errorf("httpapi: %w", err)
			}
			svc.AcceptFor(cfg.HistoryRetention)
			h.ingest = svc
		}
	}
	return h, nil
}

// request is what one invocation decoded from its event.
type request struct {
	event *events.APIGatewayProxyRequest
	id    string
	now   time.Time
	// caller is who called, once Callers allowed it.
	caller authz.Caller
}

// response is what a route returns; Handle encodes it.
type response struct {
	status  int
	body    any
	headers map[string]string
	// err, when set, is logged; a 5xx never shows it to the client.
	err error
	// samplesIngested, when above 0, is the metrics.SamplesIngested of the request.
	samplesIngested int
	// refused marks a 403 of the function's own check (metrics.AccessRefused).
	refused bool
}

// Handle serves one API Gateway proxy event. Every outcome is an HTTP
// response; the returned error is always nil so that Lambda never retries
// or reports a request as a function error.
func (h *Handler) Handle(ctx context.Context, ev events.APIGatewayProxyRequest) (resp events.APIGatewayProxyResponse, _ error) {
	start := time.Now()
	r := &request{event: &ev, id: ev.RequestContext.RequestID, now: h.cfg.Now()}
	log := h.cfg.Logger.With("requestId", r.id, "method", ev.HTTPMethod, "resource", ev.Resource)
	var res response
	defer func() {
		if p := recover(); p != nil {
			res = errorResponse(fmt.Errorf("panic: %v", p))
			resp = h.encode(r, res)
		}
		h.logOutcome(ctx, log, start, resp.StatusCode, res)
	}()

	if rt, ok := h.route(&ev); ok {
		res = h.serve(ctx, rt, r)
	} else if name := ev.RequestContext.OperationName; name != "" {
		res = response{status: http.StatusNotFound, err: fmt.Errorf("operation %s is not served here", name)}
	} else if allowed := h.allowedMethods(ev.Resource); len(allowed) > 0 {
		res = response{status: http.StatusMethodNotAllowed, err: fmt.Errorf("method %s not allowed on %s", ev.HTTPMethod, ev.Resource),
			headers: map[string]string{"Allow": strings.Join(allowed, ", ")}}
	} else {
		res = response{status: http.StatusNotFound, err: fmt.Errorf("no operation %s %s here", ev.HTTPMethod, ev.Resource)}
	}
	return h.encode(r, res), nil
}

// logOutcome writes a request's one log line, which carries its metric:
// samples stored (read by the upload function's metric filter), or a
// refusal (embedded).
func (h *Handler) logOutcome(ctx context.Context, log *slog.Logger, start time.Time, status int, res response) {
	attrs := []any{"status", status, "durationMs", time.Since(start).Milliseconds()}
	switch {
	case res.samplesIngested > 0:
		attrs = append(attrs, metrics.SamplesIngested, res.samplesIngested)
	case res.refused:
		attrs = append(attrs, h.embeddedMetric(start, metrics.AccessRefused, 1)...)
	}
	switch {
	case res.err != nil && status >= 500:
		log.ErrorContext(ctx, "request failed", append(attrs, "error", res.err.Error())...)
	case res.err != nil:
		log.InfoContext(ctx, "request refused", append(attrs, "error", res.err.Error())...)
	default:
		log.InfoContext(ctx, "request served", attrs...)
	}
}

// serve checks the caller of a routed request, then serves it.
func (h *Handler) serve(ctx context.Context, rt route, r *request) response {
	// Before any store call: a refusal reads and writes nothing.
	caller, err := h.cfg.Callers.Check(rt.Route, r.event.RequestContext.Identity.UserArn, r.pathParam("vid"))
	if err != nil {
		return response{status: http.StatusForbidden, err: err, refused: true}
	}
	r.caller = caller
	// A store that never answers (a network partition) is worse than one
	// that refuses: bound the store calls, so that the answer is a 503.
	storeCtx, cancel := h.storeContext(ctx)
	defer cancel()
	res := rt.operation.serve(h, storeCtx, r)
	if caller.Class == contract.CallerVehicle && errors.Is(res.err, fleet.ErrNoVehicle) {
		// The identity names a vehicle that is not registered: refused,
		// as the gateway refuses an identity it does not know.
		return response{status: http.StatusForbidden, err: &authz.RefusalError{Reason: fmt.Sprintf("vehicle %s is not registered", caller.VID)}, refused: true}
	}
	return res
}

// embeddedMetric returns the log attributes that make a log line a
// CloudWatch embedded metric format record of one count.
func (h *Handler) embeddedMetric(at time.Time, name string, value int) []any {
	return metrics.Embedded(at.UnixMilli(), []metrics.Dimension{{Name: metrics.DimensionFunctionName, Value: h.cfg.FunctionName}},
		metrics.Value{Name: name, Unit: "Count", Value: float64(value)})
}

// storeContext bounds the store calls of a request: within StoreTimeout,
// and before the invocation's deadline by a tenth of the time left (from
// 100 ms to 1 s).
func (h *Handler) storeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	limit := time.Now().Add(h.cfg.StoreTimeout)
	if deadline, ok := ctx.Deadline(); ok {
		margin := min(max(time.Until(deadline)/10, minAnswerMargin), maxAnswerMargin)
		if early := deadline.Add(-margin); early.Before(limit) {
			limit = early
		}
	}
	return context.WithDeadline(ctx, limit)
}

// route finds the operation of an event: by the operation name API
// Gateway gives it (the operationId of the imported spec), else by its
// method and resource.
func (h *Handler) route(ev *events.APIGatewayProxyRequest) (route, bool) {
	if name := ev.RequestContext.OperationName; name != "" {
		rt, ok := h.byOperation[name]
		return rt, ok
	}
	rt, ok := h.byPath[ev.HTTPMethod+" "+ev.Resource]
	return rt, ok
}

// allowedMethods lists the methods of a resource this handler serves, for 405 answers.
func (h *Handler) allowedMethods(resource string) []string {
	var out []string
	for _, rt := range h.byOperation {
		if rt.Resource == resource {
			out = append(out, rt.Method)
		}
	}
	slices.Sort(out)
	return out
}

// errorBody is the one error shape of the API.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestId"`
}

// Error codes of the API, one per status.
var errorCodes = map[int]string{
	http.StatusBadRequest:            "BadRequest",
	http.StatusForbidden:             "Forbidden",
	http.StatusNotFound:              "NotFound",
	http.StatusMethodNotAllowed:      "MethodNotAllowed",
	http.StatusConflict:              "Conflict",
	http.StatusPreconditionFailed:    "PreconditionFailed",
	http.StatusRequestEntityTooLarge: "PayloadTooLarge",
	http.StatusUnsupportedMediaType:  "UnsupportedMediaType",
	http.StatusInternalServerError:   "InternalError",
	http.StatusServiceUnavailable:    "ServiceUnavailable",
}

func (h *Handler) encode(r *request, res response) events.APIGatewayProxyResponse {
	headers := map[string]string{"Content-Type": "application/json"}
	for k, v := range res.headers {
		headers[k] = v
	}
	body := res.body
	if res.status >= 400 {
		msg := "internal error"
		switch {
		case res.status == http.StatusServiceUnavailable:
			msg = "the service is busy: retry after the delay in Retry-After"
			headers["Retry-After"] = "1"
		case res.status < 500 && res.err != nil:
			msg = publicMessage(res.err)
		}
		body = errorBody{Error: errorDetail{Code: errorCodes[res.status], Message: msg, RequestID: r.id}}
	}
	data, err := json.Marshal(body)
	if err != nil {
		h.cfg.Logger.Error("encode response", "requestId", r.id, "error", err.Error())
		res.status = http.StatusInternalServerError
		data, _ = json.Marshal(errorBody{Error: errorDetail{Code: "InternalError", Message: "internal error", RequestID: r.id}})
	}
	return events.APIGatewayProxyResponse{StatusCode: res.status, Headers: headers, Body: string(data)}
}

// publicMessage is what a client is told of a 4xx error: the validation
// message when there is one, else the error without wrapping prefixes.
func publicMessage(err error) string {
	var ve *fleet.ValidationError
	if errors.As(err, &ve) {
		return ve.Error()
	}
	return err.Error()
}

// errorResponse maps an error to its status, in one place.
func errorResponse(err error) response {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, fleet.ErrInvalid):
		status = http.StatusBadRequest
	case errors.Is(err, fleet.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, fleet.ErrConflict):
		status = http.StatusConflict
	case errors.Is(err, fleet.ErrPreconditionFailed):
		status = http.StatusPreconditionFailed
	case errors.Is(err, fleet.ErrUnavailable):
		status = http.StatusServiceUnavailable
	case errors.Is(err, errTooLarge):
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, errMediaType):
		status = http.StatusUnsupportedMediaType
	}
	return response{status: status, err: err}
}

// header returns a request header, matched without regard to case.
func (r *request) header(name string) string {
	for k, v := range r.event.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// body returns the request body, decoded from base64 when API Gateway encoded it.
func (r *request) body() ([]byte, error) {
	return boundedBody("body", r.event.Body, r.event.IsBase64Encoded)
}

// boundedBody returns the bytes of a body as it came (a request's body, an
// MQTT message's base64 payload), refusing one of more than MaxBodyBytes,
// before decoding when its encoding already says so.
func boundedBody(field, raw string, isBase64 bool) ([]byte, error) {
	if len(raw) > base64.StdEncoding.EncodedLen(MaxBodyBytes) {
		// The size of what was sent, not of its base64.
		n := len(raw)
		if isBase64 {
			n = base64.StdEncoding.DecodedLen(n) - (len(raw) - len(strings.TrimRight(raw, "=")))
		}
		return nil, fmt.Errorf("%w: %s of %d bytes exceeds %d", errTooLarge, field, n, MaxBodyBytes)
	}
	b := []byte(raw)
	if isBase64 {
		dec, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			return nil, &fleet.ValidationError{Field: field, Message: "is not valid base64"}
		}
		b = dec
	}
	if len(b) > MaxBodyBytes {
		return nil, fmt.Errorf("%w: %s of %d bytes exceeds %d", errTooLarge, field, len(b), MaxBodyBytes)
	}
	return b, nil
}
