// Package leakcheck runs a package's tests under goleak, ignoring the
// goroutines that gnet's shared worker pool (ants) keeps for the life of the
// process: they belong to gnet, not to a test. Test-only; it has no state.
package leakcheck

import (
	"testing"

	"go.uber.org/goleak"
)

// VerifyTestMain runs m and fails it if any test left a goroutine behind.
func VerifyTestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}
