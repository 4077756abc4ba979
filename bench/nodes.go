package bench

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// Nodes is several fanout server processes joined through one NATS server,
// which runs embedded in the harness process (its CPU is counted as the
// generator's).
type Nodes struct {
	Target
	nats  *natsserver.Server
	procs []*Process
}

// StartNodes starts a NATS server on a free loopback port and n fanout
// processes with distinct node numbers joined to it.
func StartNodes(n int, extraArgs []string) (*Nodes, error) {
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		return nil, fmt.Errorf("bench: nats server: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("bench: nats server did not start")
	}
	c := &Nodes{Target: Target{Name: fmt.Sprintf("fanout x%d via NATS", n)}, nats: ns}
	for i := 1; i <= n; i++ {
		args := append([]string{"--node", strconv.Itoa(i), "--cluster", ns.ClientURL()}, extraArgs...)
		p, err := StartProcess("fanout", args)
		if err != nil {
			_ = c.Stop(10 * time.Second)
			return nil, err
		}
		c.procs = append(c.procs, p)
		c.Addrs = append(c.Addrs, p.Addrs...)
		c.PIDs = append(c.PIDs, p.PIDs...)
	}
	return c, nil
}

// Stop ends the nodes, then NATS.
func (c *Nodes) Stop(timeout time.Duration) error {
	var errs []error
	for _, p := range c.procs {
		errs = append(errs, p.Stop(timeout))
	}
	c.nats.Shutdown()
	c.nats.WaitForShutdown()
	return errors.Join(errs...)
}
