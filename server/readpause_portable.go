//go:build !linux || fanout_portable

package server

import (
	"errors"

	"github.com/panjf2000/gnet/v2"
)

// Without a way to pause reading a socket (see readpause_linux.go), the
// server cannot hold senders back: the fan-out is told so (shard's
// Options.HoldSenders off), nobody is flagged, and a reader more than
// --max-lag behind is cut instead, so that memory stays bounded.

// readPauseSupported: this build cannot pause reading a socket.
const readPauseSupported = false

var errNoReadPause = errors.New("server: this build cannot pause reading a socket")

func findLoopPoller(int) (int, error)    { return -1, errNoReadPause }
func pauseReading(int, gnet.Conn) error  { return errNoReadPause }
func resumeReading(int, gnet.Conn) error { return errNoReadPause }

// hangUpError is never called: no socket is paused here.
func hangUpError(gnet.Conn) error { return errNoReadPause }
