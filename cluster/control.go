package cluster

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// DefaultNodeCheckWait bounds the node-number check: how long a joining
// node waits for an answer from a subscriber on its control subject
// before it starts anyway. A live node answers within milliseconds.
const DefaultNodeCheckWait = 2 * time.Second

// noRespondersGrace is how long, with a cluster key, a "no responders"
// status is held against a signed answer that may still come.
const noRespondersGrace = 250 * time.Millisecond

// maxQuoted bounds how much of an answer an error quotes.
const maxQuoted = 200

// ErrNodeInUse is returned by Join when a live node has the same number.
var ErrNodeInUse = errors.New("cluster: node number already in use")

func (b *Bridge) controlSubject() string {
	return b.cfg.Subject + ".node." + strconv.FormatInt(b.cfg.Node, 10)
}

// publicDescribe is all a node tells an unauthenticated asker.
func (b *Bridge) publicDescribe() string {
	return "fanout node " + b.node
}

// checkNode asks whether a node holds our number, and collects answers for
// at most NodeCheckWait. No subscriber at all (NATS says "no responders")
// means the number is free. An answer means a live node has it, but with
// a cluster key only an answer with a valid MAC for this very question
// counts: anyone else's is ignored. A subscriber that never answers (a
// node that died without closing its connection, or anyone squatting on
// the subject) cannot hold the number: once the wait is over the node
// starts, with a warning.
//
// Runs in Join, before the bridge subscribes.
func (b *Bridge) checkNode() error {
	ctl := b.controlSubject()
	inbox := b.nc.NewInbox()
	sub, err := b.nc.SubscribeSync(inbox)
	if err != nil {
		return fmt.Errorf("cluster: node-number check: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	mac := newMacer(b.cfg.Keys) // this goroutine's own
	ask := &nats.Msg{Subject: ctl, Reply: inbox}
	if mac != nil {
		mac.fields(macKindAsk, ctl, inbox)
		ask.Header = nats.Header{macHeader: []string{mac.sign(nil)}}
	}
	if err := b.nc.PublishMsg(ask); err != nil {
		return fmt.Errorf("cluster: node-number check: %w", err)
	}
	deadline := time.Now().Add(b.cfg.NodeCheckWait)
	ignored, free := 0, false
	for {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		m, err := sub.NextMsg(left)
		if errors.Is(err, nats.ErrTimeout) {
			break
		}
		if errors.Is(err, nats.ErrNoResponders) { // NATS's status: nobody is subscribed
			if mac == nil {
				return nil
			}
			// Anyone who sees our inbox can send a status too: with a key,
			// give a live node's signed answer a moment to come first.
			free = true
			if d := time.Now().Add(noRespondersGrace); d.Before(deadline) {
				deadline = d
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("cluster: node-number check: %w", err)
		}
		if mac != nil {
			v, ok := headerValue(m.Header, macHeader)
			mac.fields(macKindAnswer, ctl, inbox)
			if !ok || !mac.verify(v, m.Data) {
				ignored++
				continue
			}
		}
		return fmt.Errorf("%w: node %d is live (%q); give every node its own --node",
			ErrNodeInUse, b.cfg.Node, quoted(m.Data))
	}
	if free {
		return nil
	}
	if ignored > 0 {
		b.log.Warn("node-number check: ignored answers without a valid MAC (someone without the cluster key answers on the control subject); starting",
			"subject", ctl, "ignored", ignored)
		return nil
	}
	b.log.Warn("node-number check: a subscriber on the control subject did not answer; starting anyway. "+
		"It is a node that died without closing its connection (NATS drops it after ping_interval × ping_max), "+
		"a node hung for longer than the wait, or someone squatting on the subject",
		"subject", ctl, "waited", b.cfg.NodeCheckWait)
	return nil
}

// quoted returns the start of an answer, for an error message.
func quoted(b []byte) string {
	if len(b) > maxQuoted {
		return string(b[:maxQuoted]) + "…"
	}
	return string(b)
}

// answerCheck answers another node's node-number check. An asker proves
// it holds the cluster key with a MAC bound to its reply inbox; it gets
// cfg.Describe (pid, host) with a MAC of our own. Anyone else, and every
// asker without a key, learns only that node <n> is live.
//
// Runs on the control subscription's goroutine, which owns mac.
func (b *Bridge) answerCheck(mac *macer) nats.MsgHandler {
	ctl := b.controlSubject()
	public := []byte(b.publicDescribe())
	return func(m *nats.Msg) {
		if m.Reply == "" {
			return
		}
		answer := &nats.Msg{Data: public}
		if mac != nil {
			v, ok := headerValue(m.Header, macHeader)
			mac.fields(macKindAsk, ctl, m.Reply)
			if ok && mac.verify(v, nil) {
				answer.Data = []byte(b.cfg.Describe)
				mac.fields(macKindAnswer, ctl, m.Reply)
				answer.Header = nats.Header{macHeader: []string{mac.sign(answer.Data)}}
			}
		}
		if err := m.RespondMsg(answer); err != nil {
			b.log.Warn("answering node-number check", "err", err)
		}
	}
}
