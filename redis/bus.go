package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/latch-auth/latch"
)

// DefaultChannel is the pub/sub channel a Bus uses when none is given.
const DefaultChannel = "latch:revocations"

// DefaultHealthCheck is BusOptions.HealthCheck's default.
const DefaultHealthCheck = time.Second

// ErrSubscriptionBroken is returned by Bus.Subscribe when the subscription
// connection breaks or stops answering; messages may have been lost.
var ErrSubscriptionBroken = errors.New("redis: revocation subscription broken")

// BusOptions configure a Bus. Zero values are the documented defaults.
type BusOptions struct {
	// Channel is the pub/sub channel; default DefaultChannel. Every
	// instance of one deployment must use the same channel.
	Channel string
	// HealthCheck bounds how long a dead subscription goes unnoticed:
	// after HealthCheck with nothing received the bus sends a PING, and
	// declares the subscription broken when nothing (not even the PONG)
	// arrives within another HealthCheck. A connection closed or reset
	// is noticed at once. Default DefaultHealthCheck (so a silent network
	// failure is noticed within about 2 s).
	HealthCheck time.Duration
	// Logger receives malformed messages and breaks; default discards.
	Logger *slog.Logger
}

// Bus is a latch.RevocationBus over Redis pub/sub.
//
// go-redis's PubSub reconnects and resubscribes on its own, silently: a
// message published in between is lost with no sign. Bus therefore does
// not use PubSub.Channel; it reads with its own loop (ReceiveTimeout plus
// a PING after HealthCheck of silence) and ends Subscribe with
// ErrSubscriptionBroken, after calling Disconnected, on any read error, a
// missing PONG, or a subscription confirmation it did not ask for (the
// trace of a silent reconnect). The caller then subscribes again, and the
// Connected that follows makes it catch up from the database.
type Bus struct {
	client goredis.UniversalClient
	opts   BusOptions
}

var _ latch.RevocationBus = (*Bus)(nil)

// NewBus returns a Bus publishing and subscribing on channel (""
// means DefaultChannel) with the other options at their defaults.
func NewBus(client goredis.UniversalClient, channel string) *Bus {
	return NewBusWithOptions(client, BusOptions{Channel: channel})
}

// NewBusWithOptions returns a Bus configured by opts.
func NewBusWithOptions(client goredis.UniversalClient, opts BusOptions) *Bus {
	if opts.Channel == "" {
		opts.Channel = DefaultChannel
	}
	if opts.HealthCheck <= 0 {
		opts.HealthCheck = DefaultHealthCheck
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Bus{client: client, opts: opts}
}

// Channel returns the pub/sub channel of b.
func (b *Bus) Channel() string { return b.opts.Channel }

// message is a Revocation on the wire: compact JSON, times in Unix
// milliseconds, zero fields left out.
type message struct {
	SessionID string `json:"sid,omitempty"`
	Until     int64  `json:"until,omitempty"`
	UserID    int64  `json:"user,omitempty"`
	Version   int64  `json:"ver,omitempty"`
	Keep      string `json:"keep,omitempty"`
	Changed   int64  `json:"changed,omitempty"`
}

func encode(r latch.Revocation) ([]byte, error) {
	if r.SessionID == "" && r.Version.UserID == 0 && r.UserChanged == 0 {
		return nil, errors.New("redis: revocation names neither a session nor a user")
	}
	m := message{
		SessionID: r.SessionID,
		UserID:    r.Version.UserID,
		Version:   r.Version.Version,
		Keep:      r.Version.KeepSession,
		Changed:   r.UserChanged,
	}
	if !r.Until.IsZero() {
		m.Until = r.Until.UnixMilli()
	}
	return json.Marshal(m)
}

func decode(payload string) (latch.Revocation, error) {
	var m message
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		return latch.Revocation{}, err
	}
	if m.SessionID == "" && m.UserID == 0 && m.Changed == 0 {
		return latch.Revocation{}, errors.New("names neither a session nor a user")
	}
	if m.SessionID != "" && m.Until == 0 {
		return latch.Revocation{}, errors.New("session revocation without until")
	}
	r := latch.Revocation{
		SessionID:   m.SessionID,
		Version:     latch.TokenVersion{UserID: m.UserID, Version: m.Version, KeepSession: m.Keep},
		UserChanged: m.Changed,
	}
	if m.Until != 0 {
		r.Until = time.UnixMilli(m.Until)
	}
	return r, nil
}

// Publish implements latch.RevocationBus: it sends r to every subscribed
// instance. Until is sent at millisecond precision.
func (b *Bus) Publish(ctx context.Context, r latch.Revocation) error {
	payload, err := encode(r)
	if err != nil {
		return err
	}
	if err := b.client.Publish(ctx, b.opts.Channel, payload).Err(); err != nil {
		return fmt.Errorf("redis: publish revocation: %w", err)
	}
	return nil
}

// Subscribe implements latch.RevocationBus. It returns ctx.Err() when ctx
// ends, ErrSubscriptionBroken (wrapping the cause) when the subscription
// breaks, or the error that kept it from being established. Connected is
// called once the server has confirmed the subscription; Disconnected is
// called before returning whenever Connected was.
func (b *Bus) Subscribe(ctx context.Context, l latch.RevocationListener) (err error) {
	ps := b.client.Subscribe(ctx, b.opts.Channel)
	// Close unblocks a pending read at once when ctx ends.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer func() {
		stop()
		_ = ps.Close()
	}()
	hc := b.opts.HealthCheck

	// Wait for the confirmation: only then are messages certain to reach us.
	deadline := time.Now().Add(5 * hc)
	for {
		msg, err := b.receive(ctx, ps)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if isTimeout(err) && time.Now().Before(deadline) {
				continue
			}
			return fmt.Errorf("redis: subscribe %s: %w", b.opts.Channel, err)
		}
		if s, ok := msg.(*goredis.Subscription); ok && s.Kind == "subscribe" && s.Channel == b.opts.Channel {
			break
		}
	}
	l.Connected()
	defer l.Disconnected()

	pinged := false // a PING is out and nothing has come back since
	for {
		msg, err := b.receive(ctx, ps)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if !isTimeout(err) {
				return b.broken(err)
			}
			if pinged {
				return b.broken(fmt.Errorf("no reply to PING within %s", hc))
			}
			pctx, cancel := context.WithTimeout(ctx, hc)
			err := ps.Ping(pctx)
			cancel()
			if err != nil {
				return b.broken(fmt.Errorf("ping: %w", err))
			}
			pinged = true
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *goredis.Message:
			r, err := decode(m.Payload)
			if err != nil {
				b.opts.Logger.Warn("ignoring malformed revocation message", "channel", m.Channel, "err", err, "bytes", len(m.Payload))
				continue
			}
			l.Deliver(r)
		case *goredis.Pong:
		case *goredis.Subscription:
			// go-redis resubscribed behind our back (or the server
			// unsubscribed us): messages may have been missed.
			return b.broken(fmt.Errorf("unexpected %s of %s", m.Kind, m.Channel))
		default:
			b.opts.Logger.Warn("ignoring unexpected pub/sub reply", "type", fmt.Sprintf("%T", msg))
		}
	}
}

// receive reads the next reply, waiting at most HealthCheck. The context's
// deadline bounds the reconnection go-redis attempts by itself after a
// read error (which Subscribe discards: it reports the break instead), so
// that the break is reported promptly even when the server cannot be
// dialled.
func (b *Bus) receive(ctx context.Context, ps *goredis.PubSub) (any, error) {
	hc := b.opts.HealthCheck
	rctx, cancel := context.WithTimeout(ctx, hc+hc/2)
	defer cancel()
	return ps.ReceiveTimeout(rctx, hc)
}

func (b *Bus) broken(cause error) error {
	err := fmt.Errorf("%w: %w", ErrSubscriptionBroken, cause)
	b.opts.Logger.Warn("revocation subscription broken", "channel", b.opts.Channel, "err", cause)
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
