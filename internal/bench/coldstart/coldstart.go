// Package coldstart measures Lambda functions' cold and warm starts under
// the Lambda runtime interface emulator (make bench-coldstart): each start
// is a fresh emulator and bootstrap process, invoked once cold and then
// warm, with every request the process makes to AWS endpoints counted.
package coldstart

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Target is a bootstrap to start, and the event to invoke it with.
type Target struct {
	Name      string
	Bootstrap string
	// Env is the function's environment (the emulator's own is added).
	Env []string
	// Event returns the i-th invocation's payload (0 is the cold one);
	// WantStatus the statusCode of the API Gateway proxy response it must
	// answer.
	Event      func(i int) []byte
	WantStatus int
	// Probe is an event the function answers ProbeStatus without a call
	// to any endpoint (a request it refuses): the calls seen before its
	// answer to a cold start are the init's.
	Probe       []byte
	ProbeStatus int
}

// Start is one cold start and the warm invocations after it.
type Start struct {
	// InitMs is the emulator's INIT REPORT: the bootstrap's init, from its
	// exec to its first call for an event.
	InitMs float64
	// First is the cold invocation as the client sees it, init included;
	// Warm the invocations after it.
	First time.Duration
	Warm  []time.Duration
	// MaxRSSKiB is the bootstrap's peak resident memory (VmHWM).
	MaxRSSKiB int
}

// Runner starts targets under the emulator.
type Runner struct {
	// Emulator is the aws-lambda-rie binary.
	Emulator string
	// Endpoints are counted: the bootstrap's AWS endpoints point at them.
	Endpoints []*Counter
	// Timeout is the function timeout the emulator applies, whole seconds.
	Timeout int
}

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// Run starts t fresh, invokes it once cold and warm times warm.
func (r *Runner) Run(ctx context.Context, t Target, warm int) (Start, error) {
	p, err := r.start(ctx, t)
	if err != nil {
		return Start{}, err
	}
	defer p.stop()
	var s Start
	if s.First, err = p.invoke(t.Event(0), t.WantStatus); err != nil {
		return Start{}, fmt.Errorf("%s cold: %w\n%s", t.Name, err, p.lines.text())
	}
	for i := range warm {
		d, err := p.invoke(t.Event(i+1), t.WantStatus)
		if err != nil {
			return Start{}, fmt.Errorf("%s warm: %w\n%s", t.Name, err, p.lines.text())
		}
		s.Warm = append(s.Warm, d)
	}
	s.MaxRSSKiB = maxRSS(p.cmd.Process.Pid)
	m, ok := p.lines.find(initReport, 5*time.Second)
	if !ok {
		return Start{}, fmt.Errorf("%s: no INIT REPORT in the emulator's output:\n%s", t.Name, p.lines.text())
	}
	if s.InitMs, err = strconv.ParseFloat(m[1], 64); err != nil {
		return Start{}, err
	}
	return s, nil
}

// InitCalls starts t fresh and invokes it with its probe, which makes no
// call: it returns the requests each endpoint saw until the answer, that
// is during init, by endpoint name.
func (r *Runner) InitCalls(ctx context.Context, t Target) (map[string]int, error) {
	p, err := r.start(ctx, t)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	from := time.Now()
	if _, err := p.invoke(t.Probe, t.ProbeStatus); err != nil {
		return nil, fmt.Errorf("%s probe: %w\n%s", t.Name, err, p.lines.text())
	}
	to := time.Now()
	calls := map[string]int{}
	for _, e := range r.Endpoints {
		calls[e.Name] = e.Between(from, to)
	}
	return calls, nil
}

// Invoke starts t fresh and invokes it once, cold, with event: the
// emulator's answer as it came, how long it took, and the emulator's and
// the function's output until then.
func (r *Runner) Invoke(ctx context.Context, t Target, event []byte) (answer []byte, took time.Duration, output string, err error) {
	p, err := r.start(ctx, t)
	if err != nil {
		return nil, 0, "", err
	}
	defer p.stop()
	answer, took, err = p.post(event)
	return answer, took, p.lines.text(), err
}

// process is a running emulator with a bootstrap.
type process struct {
	cmd    *exec.Cmd
	lines  *outputLines
	client *http.Client
	url    string
}

func (r *Runner) start(ctx context.Context, t Target) (*process, error) {
	runtimeAPI, invokeAddr := freeAddr(), freeAddr()
	cmd := exec.CommandContext(ctx, r.Emulator, "--runtime-api-address", runtimeAPI, "--runtime-interface-emulator-address", invokeAddr, "./"+filepath.Base(t.Bootstrap))
	cmd.Dir = filepath.Dir(t.Bootstrap)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "AWS_LAMBDA_FUNCTION_TIMEOUT=" + strconv.Itoa(r.Timeout)}, t.Env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	// Its own process group: the emulator and its bootstrap stop together.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the emulator: %w", err)
	}
	p := &process{cmd: cmd, lines: &outputLines{}, client: &http.Client{Timeout: time.Duration(r.Timeout+5) * time.Second},
		url: "http://" + invokeAddr + "/2015-03-31/functions/function/invocations"}
	go p.lines.read(out)
	if err := waitListening(ctx, invokeAddr); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

func (p *process) stop() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	_ = p.cmd.Wait()
}

// post invokes the function with event and returns the emulator's answer.
func (p *process) post(event []byte) ([]byte, time.Duration, error) {
	start := time.Now()
	res, err := p.client.Post(p.url, "application/json", bytes.NewReader(event))
	if err != nil {
		return nil, 0, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return body, time.Since(start), err
}

// invoke posts event and checks the proxy response's status.
func (p *process) invoke(event []byte, want int) (time.Duration, error) {
	body, took, err := p.post(event)
	if err != nil {
		return 0, err
	}
	var answer struct {
		StatusCode int `json:"statusCode"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || answer.StatusCode != want {
		return 0, fmt.Errorf("answered %s, want a proxy response with statusCode %d", body, want)
	}
	return took, nil
}

// outputLines keeps the emulator's output lines.
type outputLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *outputLines) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		l.mu.Lock()
		l.lines = append(l.lines, sc.Text())
		l.mu.Unlock()
	}
}

// find waits up to wait for a line matching re.
func (l *outputLines) find(re *regexp.Regexp, wait time.Duration) ([]string, bool) {
	for deadline := time.Now().Add(wait); ; time.Sleep(10 * time.Millisecond) {
		l.mu.Lock()
		for _, line := range l.lines {
			if m := re.FindStringSubmatch(line); m != nil {
				l.mu.Unlock()
				return m, true
			}
		}
		l.mu.Unlock()
		if time.Now().After(deadline) {
			return nil, false
		}
	}
}

func (l *outputLines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// maxRSS reads the peak resident memory of the emulator's child process
// (the bootstrap), in KiB; 0 if it cannot be read.
func maxRSS(emulatorPID int) int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		stat, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, ppid follows ")".
		_, rest, ok := strings.Cut(string(stat), ") ")
		fields := strings.Fields(rest)
		if !ok || len(fields) < 2 || fields[1] != strconv.Itoa(emulatorPID) {
			continue
		}
		status, _ := os.ReadFile(filepath.Join(filepath.Dir(path), "status"))
		for line := range strings.SplitSeq(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
				return n
			}
		}
	}
	return 0
}

func waitListening(ctx context.Context, addr string) error {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return errors.New("the emulator did not listen on " + addr)
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("find a free port: %v", err))
	}
	defer l.Close()
	return l.Addr().String()
}

// Counter is an HTTP endpoint that records when each request arrives and
// hands it on.
type Counter struct {
	Name string
	// URL is where the bootstrap is pointed.
	URL  string
	next http.Handler
	mu   sync.Mutex
	at   []time.Time
	srv  *http.Server
}

// NewCounter serves next on a free port of 127.0.0.1, counting requests.
func NewCounter(name string, next http.Handler) (*Counter, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &Counter{Name: name, URL: "http://" + l.Addr().String(), next: next}
	c.srv = &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = c.srv.Serve(l) }()
	return c, nil
}

func (c *Counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.at = append(c.at, time.Now())
	c.mu.Unlock()
	c.next.ServeHTTP(w, r)
}

// Between counts the requests that arrived from from to to.
func (c *Counter) Between(from, to time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(slices.DeleteFunc(slices.Clone(c.at), func(t time.Time) bool { return t.Before(from) || t.After(to) }))
}

// Close stops the endpoint.
func (c *Counter) Close() error { return c.srv.Close() }

// Secrets answers Secrets Manager's GetSecretValue with value, for any
// secret: a local stand-in whose only purpose is to be counted.
func Secrets(value string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" {
			http.Error(w, `{"__type":"InvalidRequestException"}`, http.StatusBadRequest)
			return
		}
		var in struct{ SecretId string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(map[string]any{"ARN": in.SecretId, "Name": "cursor-key", "SecretString": value, "VersionId": "v1"})
	})
}

// Summary is the median and 99th percentile of some durations, in ms.
type Summary struct{ Median, P99 float64 }

// Summarize returns the median and the 99th percentile (nearest rank).
func Summarize(ms []float64) Summary {
	if len(ms) == 0 {
		return Summary{}
	}
	s := slices.Sorted(slices.Values(ms))
	median := s[len(s)/2]
	if len(s)%2 == 0 {
		median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	p99 := s[min(len(s)-1, int(math.Ceil(0.99*float64(len(s))))-1)]
	return Summary{Median: median, P99: p99}
}
