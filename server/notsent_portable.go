//go:build !linux || fanout_portable

package server

// Elsewhere (macOS, the BSDs, the portable build) the cap on unsent bytes
// is not set: a reader behind may hold a send buffer's worth in the
// kernel, as the system's defaults allow.

func setNotsentLowat(int, int) error { return nil }

// notsentLowatAttr is the startup log's value for --tcp-notsent-lowat:
// this build does not apply it.
func notsentLowatAttr(n int) any {
	if n == 0 {
		return 0
	}
	return "not applied (needs Linux)"
}
