// Package sysutil holds the system helpers the daemon and the benchmark
// harness share: the open-file limit and the descriptors kept back from
// it, the ready file and systemd notification that say a server listens,
// pinning a process's threads to CPUs (and whether two processes may
// share one), and measuring how idle those CPUs are. No goroutines; everything but IdleMeter (which keeps its last
// reading, a few words, for one caller at a time) is stateless and safe
// for concurrent use.
package sysutil
