package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// control sends one request to s's control plane and returns the status
// and the decoded JSON body.
func control(t *testing.T, s *Server, method, path, token string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.MetricsAddr().String()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var v map[string]any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber() // snowflake IDs do not fit a float64
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s %s: not JSON: %q", method, path, body)
	}
	return resp.StatusCode, v
}

// num reads a JSON number decoded with UseNumber.
func num(v any) int64 {
	n, _ := v.(json.Number).Int64()
	return n
}

func idsIn(v map[string]any) []string {
	var ids []string
	conns, _ := v["connections"].([]any)
	for _, c := range conns {
		ids = append(ids, c.(map[string]any)["id"].(json.Number).String())
	}
	return ids
}

// TestConnz: list, page, sort and look up connections over real HTTP,
// with clear 400s and 404s for bad input, and /varz.
func TestConnz(t *testing.T) {
	s, _ := startServer(t, Config{MetricsAddr: "127.0.0.1:0"})
	cs := []*testClient{dial(t, s), dial(t, s), dial(t, s)}
	waitOpen(t, s, 3)
	ids := idsOf(t, cs) // each sends one line
	cs[0].send("two\nthree\n")
	for _, c := range cs[1:] {
		c.mustReadLine()
		c.mustReadLine()
	}

	code, v := control(t, s, "GET", "/connz", "")
	if code != 200 || num(v["total"]) != 3 || len(idsIn(v)) != 3 {
		t.Fatalf("GET /connz: %d %v", code, v)
	}
	if _, v := control(t, s, "GET", "/connz?sort=lines_in", ""); idsIn(v)[0] != ids[0] {
		t.Errorf("sort=lines_in: first %v, want the busiest sender %s", idsIn(v), ids[0])
	}
	if _, v := control(t, s, "GET", "/connz?sort=id&offset=1&limit=1", ""); len(idsIn(v)) != 1 || num(v["total"]) != 3 {
		t.Errorf("paging: %v", v)
	}
	code, v = control(t, s, "GET", "/connz/"+ids[0], "")
	if code != 200 || fmt.Sprint(v["id"]) != ids[0] || num(v["lines_in"]) != 3 || v["remote"] == "" {
		t.Errorf("GET /connz/%s: %d %v", ids[0], code, v)
	}
	if num(v["bytes_out"]) == 0 || num(v["pending_bytes"]) != 0 {
		t.Errorf("bytes out / pending: %v", v)
	}
	for _, tc := range []struct {
		path string
		want int
	}{
		{path: "/connz/123", want: 404},
		{path: "/connz/abc", want: 400},
		{path: "/connz/-5", want: 400},
		{path: "/connz?limit=100000", want: 400},
		{path: "/connz?offset=-1", want: 400},
		{path: "/connz?sort=bogus", want: 400},
	} {
		if code, v := control(t, s, "GET", tc.path, ""); code != tc.want || v["error"] == "" {
			t.Errorf("GET %s: %d %v, want %d with an error", tc.path, code, v, tc.want)
		}
	}
	code, v = control(t, s, "GET", "/varz", "")
	if code != 200 || num(v["connections"]) != 3 || v["version"] == nil || v["rates_per_sec"] == nil {
		t.Errorf("GET /varz: %d %v", code, v)
	}
	if cfg, _ := json.Marshal(v["config"]); strings.Contains(string(cfg), "AdminToken\"") {
		t.Errorf("/varz shows the admin token: %s", cfg)
	}
	cs[1].send("still fine\n") // nothing above disturbed the traffic
	if got := cs[2].mustReadLine(); !strings.HasSuffix(got, ":still fine") {
		t.Errorf("got %q", got)
	}
}

// TestKick: DELETE /connz/{id} needs the admin token (403 without one
// configured, 401 for a wrong one); with it the client reads "ERR kicked"
// and is closed, counted and logged, and the others keep receiving.
func TestKick(t *testing.T) {
	open, _ := startServer(t, Config{MetricsAddr: "127.0.0.1:0"})
	c := dial(t, open)
	waitOpen(t, open, 1)
	if code, v := control(t, open, "DELETE", "/connz/1", "anything"); code != 403 || !strings.Contains(fmt.Sprint(v["error"]), "--admin-token") {
		t.Errorf("kick with no token configured: %d %v", code, v)
	}
	_ = c

	s, logs := startServer(t, Config{MetricsAddr: "127.0.0.1:0", AdminToken: "s3cret"})
	cs := []*testClient{dial(t, s), dial(t, s), dial(t, s)}
	waitOpen(t, s, 3)
	ids := idsOf(t, cs)
	for _, tok := range []string{"", "wrong", "s3cre"} {
		if code, _ := control(t, s, "DELETE", "/connz/"+ids[1], tok); code != 401 {
			t.Errorf("token %q: %d, want 401", tok, code)
		}
	}
	if code, _ := control(t, s, "DELETE", "/connz/999", "s3cret"); code != 404 {
		t.Errorf("unknown ID: %d, want 404", code)
	}
	if code, v := control(t, s, "DELETE", "/connz/"+ids[1]+"?reason=testing", "s3cret"); code != 200 {
		t.Fatalf("kick: %d %v", code, v)
	}
	if got := cs[1].expectClosed(); !strings.HasSuffix(got, "ERR kicked\r\n") {
		t.Errorf("the kicked client read %q", got)
	}
	waitOpen(t, s, 2)
	if n := s.closed[ReasonKicked].Load(); n != 1 {
		t.Errorf("kicked closes = %d", n)
	}
	if out := logs.String(); !strings.Contains(out, "kicking connection") || !strings.Contains(out, "why=testing") {
		t.Errorf("no log line for the kick:\n%s", out)
	}
	cs[0].send("after\n")
	if got := cs[2].mustReadLine(); !strings.HasSuffix(got, ":after") {
		t.Errorf("got %q", got)
	}
}

// TestControlJSON: the control plane's JSON follows NATS monitoring's
// conventions: snake_case keys (the configuration keyed by flag),
// durations as strings in the flags' syntax, the build split into
// version, commit and Go version, a count beside the /connz page, uptime
// and idle time per connection, errors (405 included) in JSON with "<>"
// left as they are.
func TestControlJSON(t *testing.T) {
	s, _ := startServer(t, Config{MetricsAddr: "127.0.0.1:0", AdminToken: "s3cret"})
	cs := []*testClient{dial(t, s), dial(t, s)}
	waitOpen(t, s, 2)
	idsOf(t, cs)

	_, v := control(t, s, "GET", "/connz?limit=1", "")
	conns, _ := v["connections"].([]any)
	if num(v["num_connections"]) != 1 || len(conns) != 1 || num(v["total"]) != 2 {
		t.Fatalf("GET /connz: num_connections %v, %d connections", v["num_connections"], len(conns))
	}
	for _, key := range []string{"uptime", "idle"} {
		d, err := time.ParseDuration(fmt.Sprint(conns[0].(map[string]any)[key]))
		if err != nil || d < 0 {
			t.Errorf("connection %s = %v: %v", key, conns[0].(map[string]any)[key], err)
		}
	}

	_, v = control(t, s, "GET", "/varz", "")
	for _, key := range []string{"version", "git_commit", "go"} {
		if str, _ := v[key].(string); str == "" {
			t.Errorf("/varz %s = %v", key, v[key])
		}
	}
	cfg, _ := v["config"].(map[string]any)
	for key := range cfg {
		if key != strings.ToLower(key) || strings.Contains(key, "-") {
			t.Errorf("/varz config key %q is not snake_case", key)
		}
	}
	if cfg["write_deadline"] != "10s" || cfg["max_conns_per_ip"] == nil || cfg["admin_token"] != nil {
		t.Errorf("/varz config: write_deadline %v, max_conns_per_ip %v, admin_token %v",
			cfg["write_deadline"], cfg["max_conns_per_ip"], cfg["admin_token"])
	}

	for _, tc := range []struct {
		method, path, allow string
	}{
		{method: "POST", path: "/connz", allow: "GET"},
		{method: "PUT", path: "/connz/1", allow: "GET, DELETE"},
		{method: "POST", path: "/varz", allow: "GET"},
	} {
		req, _ := http.NewRequest(tc.method, "http://"+s.MetricsAddr().String()+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e map[string]string
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != tc.allow || json.Unmarshal(body, &e) != nil || e["error"] == "" {
			t.Errorf("%s %s: %d, Allow %q, %q; want a JSON 405", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), body)
		}
	}

	req, _ := http.NewRequest("DELETE", "http://"+s.MetricsAddr().String()+"/connz/1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(body), "Bearer <admin token>") {
		t.Errorf("401 body %q: want <> unescaped", body)
	}
}
