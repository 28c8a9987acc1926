package simulate

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fleetapi/fleetapi/client"
)

// DriveArea is where the workload's vehicles drive (around Munich), as a
// bbox: the fleet view counts the positions in it.
const DriveArea = "11.3,47.9,12.0,48.6"

// FleetView is the fleet's state as the run left it, read as a fleet
// reader reads it: every page of GET /fleet/state.
type FleetView struct {
	// Listed are the run's vehicles with a state; Connected of them over
	// MQTT; Silent connected and silent for more than 10 minutes; InArea
	// with a position in DriveArea.
	Listed, Connected, Silent, InArea int
	// ConnectedPeak is the most of the run's vehicles the state showed
	// connected at once while the run polled it (over MQTT, while they
	// drove).
	ConnectedPeak int
	// Pages and Took are what reading the whole fleet's state took.
	Pages int
	Took  time.Duration
}

func (v FleetView) String() string {
	return fmt.Sprintf("fleet view: %d of the run's vehicles listed (%d connected, at most %d while the run polled; %d silent for 10 minutes; %d in the drive area %s); the whole fleet's state in %d pages, %v",
		v.Listed, v.Connected, v.ConnectedPeak, v.Silent, v.InArea, DriveArea, v.Pages, v.Took.Round(time.Millisecond))
}

// taken is an acknowledged sample: its timestamp, and when the vehicle
// took it on the run's clock (its upload sent right after its newest
// sample, the others earlier by their distance at the run's speed).
type taken struct {
	ts, at time.Time
}

// stateWatch polls the fleet's state and keeps, per vehicle, when its
// last sample moved to each value.
type stateWatch struct {
	reader *client.ClientWithResponses
	vids   map[string]bool
	mu     sync.Mutex
	seen   map[string][]observation
	// connectedPeak is the most of the vehicles a poll found connected.
	connectedPeak int
}

type observation struct {
	lastSample, at time.Time
}

func newStateWatch(reader *client.ClientWithResponses) *stateWatch {
	return &stateWatch{reader: reader, vids: map[string]bool{}, seen: map[string][]observation{}}
}

func (w *stateWatch) watch(vid string) {
	w.mu.Lock()
	w.vids[vid] = true
	w.mu.Unlock()
}

// poll reads every page of the fleet's state once and records the run's
// vehicles' last samples.
func (w *stateWatch) poll(ctx context.Context) error {
	states, _, err := readFleet(ctx, w.reader, nil)
	if err != nil {
		return err
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	connected := 0
	defer func() { w.connectedPeak = max(w.connectedPeak, connected) }()
	for _, st := range states {
		if !w.vids[st.Vid] {
			continue
		}
		if st.Connectivity != nil && st.Connectivity.Connected {
			connected++
		}
		if st.LastSampleAt == nil {
			continue
		}
		obs := w.seen[st.Vid]
		if len(obs) == 0 || st.LastSampleAt.After(obs[len(obs)-1].lastSample) {
			w.seen[st.Vid] = append(obs, observation{lastSample: st.LastSampleAt.UTC(), at: now})
		}
	}
	return nil
}

// run polls every interval until stop is closed.
func (w *stateWatch) run(ctx context.Context, every time.Duration, stop <-chan struct{}, errs chan<- error) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := w.poll(ctx); err != nil {
			errs <- err
			return
		}
		select {
		case <-stop:
			errs <- nil
			return
		case <-ctx.Done():
			errs <- ctx.Err()
			return
		case <-t.C:
		}
	}
}

// caughtUp reports whether every vehicle's state holds its newest
// acknowledged sample.
func (w *stateWatch) caughtUp(newest map[string]time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for vid, ts := range newest {
		obs := w.seen[vid]
		if len(obs) == 0 || obs[len(obs)-1].lastSample.Before(ts) {
			return false
		}
	}
	return true
}

// freshness is, for each acknowledged sample, how long after it was taken
// its vehicle's state first held it or a newer one; unseen counts those
// never seen.
func (w *stateWatch) freshness(samples map[string][]taken) (ds []time.Duration, unseen int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for vid, ss := range samples {
		obs := w.seen[vid]
		for _, s := range ss {
			i := sort.Search(len(obs), func(i int) bool { return !obs[i].lastSample.Before(s.ts) })
			if i == len(obs) {
				unseen++
				continue
			}
			ds = append(ds, obs[i].at.Sub(s.at))
		}
	}
	slices.Sort(ds)
	return ds, unseen
}

// readFleet reads every page of the fleet's state with params' filters.
func readFleet(ctx context.Context, reader *client.ClientWithResponses, params *client.ListFleetStateParams) ([]client.VehicleState, int, error) {
	p := client.ListFleetStateParams{Limit: new(int32(1000))}
	if params != nil {
		p = *params
		p.Limit = new(int32(1000))
	}
	var out []client.VehicleState
	pages := 0
	for {
		res, err := reader.ListFleetStateWithResponse(ctx, &p)
		if err != nil || res.JSON200 == nil {
			return nil, pages, fmt.Errorf("read the fleet's state: %v %s", err, strings.TrimSpace(res.Status()))
		}
		pages++
		out = append(out, res.JSON200.States...)
		if res.JSON200.NextCursor == nil {
			return out, pages, nil
		}
		p.Cursor = res.JSON200.NextCursor
	}
}

// fleetView reads the fleet's state as a fleet reader would, counting the
// run's vehicles.
func fleetView(ctx context.Context, reader *client.ClientWithResponses, vids map[string]bool) (FleetView, error) {
	var v FleetView
	began := time.Now()
	all, pages, err := readFleet(ctx, reader, nil)
	if err != nil {
		return v, err
	}
	v.Pages, v.Took = pages, time.Since(began)
	for _, st := range all {
		if !vids[st.Vid] {
			continue
		}
		v.Listed++
		if st.Connectivity != nil && st.Connectivity.Connected {
			v.Connected++
		}
	}
	count := func(params client.ListFleetStateParams) (int, error) {
		states, _, err := readFleet(ctx, reader, &params)
		n := 0
		for _, st := range states {
			if vids[st.Vid] {
				n++
			}
		}
		return n, err
	}
	silent := client.Duration("PT10M")
	if v.Silent, err = count(client.ListFleetStateParams{SilentFor: &silent}); err != nil {
		return v, err
	}
	area := DriveArea
	v.InArea, err = count(client.ListFleetStateParams{Bbox: &area})
	return v, err
}
