// Package faultnet gives tests the endpoints a dependency has when the
// network fails: one that accepts connections and never answers (a
// partition), one where nothing listens (connections refused), and the free
// addresses the latter are made of.
package faultnet

import (
	"net"
	"sync"
	"testing"
)

// Hung returns the URL of an endpoint on 127.0.0.1 that accepts
// connections and never answers; it closes when the test ends.
func Hung(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String()
}

// Refusing returns the URL of an address on 127.0.0.1 where nothing
// listens: every connection is refused.
func Refusing(tb testing.TB) string {
	tb.Helper()
	return "http://" + FreeAddr(tb)
}

// FreeAddr returns an address on 127.0.0.1 where nothing listens now: one
// to refuse connections at, or to start a server on.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Proxy forwards TCP connections to an address; StallReplies makes it
// stop passing what the server answers (the requests still arrive: a
// server that acts and whose answer is lost), until Resume.
type Proxy struct {
	// Addr is where the proxy listens, on 127.0.0.1.
	Addr    string
	mu      sync.Mutex
	stalled chan struct{} // nil when replies pass; closed by Resume
}

// NewProxy starts a proxy to target; it closes when the test ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{Addr: l.Addr().String()}
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) { mu.Lock(); conns = append(conns, c); mu.Unlock() }
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			track(c)
			track(s)
			go func() { copyPassing(s, c, nil); s.Close() }()
			go func() { copyPassing(c, s, p.gate); c.Close() }()
		}
	}()
	tb.Cleanup(func() {
		l.Close()
		p.Resume()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return p
}

// StallReplies holds back every byte the server sends from now on.
func (p *Proxy) StallReplies() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled == nil {
		p.stalled = make(chan struct{})
	}
}

// Resume passes the replies again, those held back first.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled != nil {
		close(p.stalled)
		p.stalled = nil
	}
}

// gate returns a channel to wait on while replies are stalled, nil if not.
func (p *Proxy) gate() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stalled
}

// copyPassing copies src to dst, waiting before each write while gate
// returns a channel.
func copyPassing(dst, src net.Conn, gate func() <-chan struct{}) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if gate != nil {
				if g := gate(); g != nil {
					<-g
				}
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
