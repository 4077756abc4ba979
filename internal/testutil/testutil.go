// Package testutil holds what the packages' tests share: a goroutine-leak
// check for TestMain, a condition wait, a buffer that a process or a
// logger may write while a test reads it, the check that a README table
// and the code name the same things, and the broadcast check (Exchange:
// every line reaches every other client once and in order). Test-only; each helper is safe
// for concurrent use as documented.
package testutil

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// VerifyTestMain runs m and fails it if any test left a goroutine behind.
// It ignores the goroutines that gnet's shared worker pool (ants) keeps for
// the life of the process: they belong to gnet, not to a test.
func VerifyTestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

// waitLimit bounds every WaitFor. It is a bound for a test that is stuck,
// not a timing: under -race beside a CPU hog on two cores, moving a few
// MB through a paced reader took over 15 s (the old bound) on a healthy
// server.
const waitLimit = 60 * time.Second

// WaitFor polls cond every few milliseconds until it holds, failing the
// test after waitLimit.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Buffer is a bytes.Buffer that one goroutine may write while another
// reads it. Safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
