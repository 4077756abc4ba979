package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/panjf2000/gnet/v2"
)

// rawGet fetches path from s's control plane with an Authorization header
// (none when auth is empty) and returns the status and body.
func rawGet(t *testing.T, s *Server, method, path, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.MetricsAddr().String()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestConnzEmptyIsAnArray: with no connections the list is [], not null.
func TestConnzEmptyIsAnArray(t *testing.T) {
	s, _ := startServer(t, Config{MetricsAddr: "127.0.0.1:0"})
	for _, path := range []string{"/connz", "/connz?limit=0", "/connz?offset=100"} {
		code, body := rawGet(t, s, "GET", path, "")
		var v struct {
			Connections json.RawMessage `json:"connections"`
		}
		if err := json.Unmarshal([]byte(body), &v); code != 200 || err != nil || string(v.Connections) != "[]" {
			t.Errorf("GET %s: %d connections=%s (%v)", path, code, v.Connections, err)
		}
	}
}

// TestKickOnlyOnce: 50 concurrent kicks of one connection: exactly one
// answers 200 (the one that closed it), the others 404.
func TestKickOnlyOnce(t *testing.T) {
	s, _ := startServer(t, Config{MetricsAddr: "127.0.0.1:0", AdminToken: "s3cret"})
	cs := []*testClient{dial(t, s), dial(t, s)}
	waitOpen(t, s, 2)
	id := idsOf(t, cs)[0]
	var wg sync.WaitGroup
	codes := make(chan int, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("DELETE", "http://"+s.MetricsAddr().String()+"/connz/"+id, nil)
			req.Header.Set("Authorization", "Bearer s3cret")
			for {
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					codes <- -1
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusTooManyRequests { // more than controlInflight at once: ask again
					codes <- resp.StatusCode
					return
				}
			}
		}()
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[200] != 1 || count[404] != 49 {
		t.Fatalf("answers %v; want one 200 and 49 404", count)
	}
	if n := s.closed[ReasonKicked].Load(); n != 1 {
		t.Fatalf("kicked closes = %d", n)
	}
}

// TestBearerSchemeIsCaseInsensitive: RFC 7235 auth schemes are
// case-insensitive; the token itself is not.
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	s, _ := startServer(t, Config{MetricsAddr: "127.0.0.1:0", AdminToken: "s3cret"})
	for _, tc := range []struct {
		auth string
		want int
	}{
		{auth: "Bearer s3cret", want: 404}, // authorized: no such connection
		{auth: "bearer s3cret", want: 404},
		{auth: "BEARER  s3cret", want: 404},
		{auth: "Bearer S3CRET", want: 401},
		{auth: "Basic s3cret", want: 401},
		{auth: "Bearer", want: 401},
		{auth: "s3cret", want: 401},
	} {
		if code, body := rawGet(t, s, "DELETE", "/connz/12345", tc.auth); code != tc.want {
			t.Errorf("Authorization %q: %d %s, want %d", tc.auth, code, body, tc.want)
		}
	}
}

// TestAdminReads: with --admin-reads, /connz, /connz/{id} and pprof need
// the token; /varz, /metrics and the health checks do not.
func TestAdminReads(t *testing.T) {
	s, _ := startServer(t, Config{MetricsAddr: "127.0.0.1:0", AdminToken: "s3cret", AdminReads: true, Pprof: true})
	cs := []*testClient{dial(t, s), dial(t, s)}
	waitOpen(t, s, 2)
	id := idsOf(t, cs)[0]
	for _, path := range []string{"/connz", "/connz/" + id, "/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/heap"} {
		if code, _ := rawGet(t, s, "GET", path, ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s without the token: %d, want 401", path, code)
		}
		if code, _ := rawGet(t, s, "GET", path, "Bearer s3cret"); code != http.StatusOK {
			t.Errorf("GET %s with the token: %d, want 200", path, code)
		}
	}
	for _, path := range []string{"/varz", "/metrics", "/healthz", "/readyz"} {
		if code, _ := rawGet(t, s, "GET", path, ""); code != http.StatusOK {
			t.Errorf("GET %s without the token: %d, want 200", path, code)
		}
	}
	if err := (Config{MetricsAddr: "127.0.0.1:0", AdminReads: true}).Validate(); err == nil {
		t.Error("--admin-reads without a token was accepted")
	}
}

// TestControlRequestsAreBounded: while both loops are busy, the control
// requests in flight wait (at most controlInflight of them), the next
// gets 429 at once, and the health checks still answer; once the loops
// are free the waiting ones complete.
func TestControlRequestsAreBounded(t *testing.T) {
	s, _ := startServer(t, Config{MetricsAddr: "127.0.0.1:0", Loops: 2})
	for range 4 {
		dial(t, s)
	}
	waitOpen(t, s, 4)
	release := make(chan struct{})
	s.loopsMu.Lock()
	for loop := range s.loops {
		_ = loop.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error { <-release; return nil }))
	}
	s.loopsMu.Unlock()
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	var wg sync.WaitGroup
	codes := make(chan int, controlInflight)
	for range controlInflight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _ := rawGet(t, s, "GET", "/connz", "")
			codes <- code
		}()
	}
	waitFor(t, "the control slots taken", func() bool { return len(s.controlSem) == controlInflight })
	code, body := rawGet(t, s, "GET", "/connz", "")
	if code != http.StatusTooManyRequests || !strings.Contains(body, "try again") {
		t.Fatalf("a request past the cap: %d %s, want 429", code, body)
	}
	if code, _ := rawGet(t, s, "GET", "/readyz", ""); code != http.StatusOK {
		t.Fatalf("/readyz while the control plane is full: %d", code)
	}
	close(release)
	released = true
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusOK {
			t.Errorf("a waiting request got %d, want 200", c)
		}
	}
}

// TestConnzPages: pages under every sort order match the whole list
// sorted the same way, after= pages by ID, and offset+limit is bounded.
func TestConnzPages(t *testing.T) {
	s, _ := startServer(t, Config{MetricsAddr: "127.0.0.1:0", Loops: 2})
	var cs []*testClient
	for range 30 {
		cs = append(cs, dial(t, s))
	}
	waitOpen(t, s, 30)
	for i, c := range cs[:10] {
		c.send(strings.Repeat("x\n", i+1)) // lines_in differ
	}
	waitFor(t, "lines read", func() bool { return s.fan.Stats().Frames == 55 })
	for sortBy := range connzSorts {
		_, all := control(t, s, "GET", "/connz?limit=4096&sort="+sortBy, "")
		whole := idsIn(all)
		if len(whole) != 30 || num(all["total"]) != 30 {
			t.Fatalf("sort=%s: %d connections, total %v", sortBy, len(whole), all["total"])
		}
		_, page := control(t, s, "GET", "/connz?offset=5&limit=7&sort="+sortBy, "")
		if got := idsIn(page); !slices.Equal(got, whole[5:12]) {
			t.Errorf("sort=%s offset=5 limit=7: %v, want %v", sortBy, got, whole[5:12])
		}
	}
	_, all := control(t, s, "GET", "/connz?limit=4096", "")
	whole := idsIn(all)
	_, after := control(t, s, "GET", "/connz?after="+whole[9]+"&limit=5", "")
	if got := idsIn(after); !slices.Equal(got, whole[10:15]) || num(after["total"]) != 20 {
		t.Errorf("after=%s: %v (total %v), want %v (total 20)", whole[9], got, after["total"], whole[10:15])
	}
	for _, path := range []string{"/connz?offset=65000&limit=4096", "/connz?after=5&sort=lines_in", "/connz?after=x"} {
		if code, v := control(t, s, "GET", path, ""); code != http.StatusBadRequest {
			t.Errorf("GET %s: %d %v, want 400", path, code, v)
		}
	}
}
