package ws

import (
	"testing"

	"github.com/fanout/fanout/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyTestMain(m) }
