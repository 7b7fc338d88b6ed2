package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/latch-auth/latch"
)

// OutboxOptions configure an Outbox. Zero durations are the defaults.
type OutboxOptions struct {
	Store  latch.MailOutbox // required
	Sender Sender           // required
	From   string           // the From address; required
	Logger *slog.Logger
	// Poll is how often the worker looks for due messages besides being
	// woken by Enqueue (messages enqueued on other instances, retries);
	// default 5s.
	Poll time.Duration
	// Lease is how long a claim keeps a message from other senders; it
	// must outlast one delivery. Default 2m.
	Lease time.Duration
	// RetryBase is the first back-off after a failure, doubled after each
	// further one up to RetryMax; defaults 2s and 5m.
	RetryBase, RetryMax time.Duration
	// MaxAge is how long a message that cannot be delivered is kept
	// before it is dropped (with a warning); default 3 days.
	MaxAge time.Duration
	// Now is the wall clock of the schedule; default time.Now. It is not
	// the token clock a test may freeze: retries must happen in real time.
	Now func() time.Time
}

// Outbox queues messages in the database and delivers them from Run.
type Outbox struct {
	opts OutboxOptions
	wake chan struct{}
}

// NewOutbox returns an Outbox; start its worker with Run.
func NewOutbox(opts OutboxOptions) (*Outbox, error) {
	if opts.Store == nil || opts.Sender == nil {
		return nil, errors.New("mail: Outbox needs a Store and a Sender")
	}
	if _, err := addressOf(opts.From); err != nil {
		return nil, fmt.Errorf("mail: from address %q: %w", opts.From, err)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.Poll, 5*time.Second)
	def(&opts.Lease, 2*time.Minute)
	def(&opts.RetryBase, 2*time.Second)
	def(&opts.RetryMax, 5*time.Minute)
	def(&opts.MaxAge, 72*time.Hour)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Outbox{opts: opts, wake: make(chan struct{}, 1)}, nil
}

// Enqueue renders m from the outbox's address and stores it for the
// worker, which it wakes. It returns once the message is in the database:
// from then on a restart or an SMTP outage does not lose it.
func (o *Outbox) Enqueue(ctx context.Context, m *Message) error {
	now := o.opts.Now()
	body, err := m.Bytes(o.opts.From, now)
	if err != nil {
		return err
	}
	to, err := addressOf(m.To)
	if err != nil {
		return fmt.Errorf("mail: to address: %w", err)
	}
	from, _ := addressOf(o.opts.From)
	if err := o.opts.Store.EnqueueMail(ctx, &latch.MailMessage{From: from, To: to, Body: body, CreatedAt: now}); err != nil {
		return err
	}
	select {
	case o.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
	return nil
}

// Run delivers due messages until ctx ends: at once when Enqueue wakes it,
// and every Poll otherwise.
func (o *Outbox) Run(ctx context.Context) error {
	t := time.NewTicker(o.opts.Poll)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		if now := o.opts.Now(); now.Sub(lastPrune) >= time.Hour {
			lastPrune = now
			if n, err := o.opts.Store.PruneMail(ctx, now.Add(-o.opts.MaxAge)); err != nil && ctx.Err() == nil {
				o.opts.Logger.Warn("prune mail outbox", "err", err)
			} else if n > 0 {
				o.opts.Logger.Warn("dropped undeliverable mail", "messages", n, "older_than", o.opts.MaxAge)
			}
		}
		o.deliverDue(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-o.wake:
		case <-t.C:
		}
	}
}

// deliverDue sends what is due, a batch at a time, until nothing is.
func (o *Outbox) deliverDue(ctx context.Context) {
	for ctx.Err() == nil {
		msgs, err := o.opts.Store.ClaimMail(ctx, o.opts.Now(), o.opts.Lease, 10)
		if err != nil {
			if ctx.Err() == nil {
				o.opts.Logger.Warn("claim mail", "err", err)
			}
			return
		}
		if len(msgs) == 0 {
			return
		}
		for _, m := range msgs {
			o.deliver(ctx, m)
		}
	}
}

func (o *Outbox) deliver(ctx context.Context, m latch.MailMessage) {
	err := o.opts.Sender.Send(ctx, m.From, m.To, m.Body)
	// Stores get a context of their own: a message the server accepted
	// must be marked even when shutdown has begun, or it goes twice.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err == nil {
		if derr := o.opts.Store.DeleteMail(sctx, m.ID); derr != nil {
			o.opts.Logger.Error("mail sent but not marked; it may go again once its lease ends", "message", m.ID, "err", derr)
		}
		return
	}
	if ctx.Err() != nil {
		// Shutting down: give it back at once for the next start.
		o.retry(sctx, m, o.opts.Now(), err)
		return
	}
	wait := o.opts.RetryBase
	for i := 1; i < m.Attempts && wait < o.opts.RetryMax; i++ {
		wait *= 2
	}
	wait = min(wait, o.opts.RetryMax)
	o.opts.Logger.Warn("mail delivery failed; will retry", "message", m.ID, "attempt", m.Attempts, "retry_in", wait, "err", err)
	o.retry(sctx, m, o.opts.Now().Add(wait), err)
}

func (o *Outbox) retry(ctx context.Context, m latch.MailMessage, at time.Time, cause error) {
	if err := o.opts.Store.RetryMail(ctx, m.ID, at, cause.Error()); err != nil {
		o.opts.Logger.Warn("reschedule mail; it goes again once its lease ends", "message", m.ID, "err", err)
	}
}

// Mailer renders account mail from Templates and queues it in Outbox.
type Mailer struct {
	Templates *Templates
	Outbox    *Outbox
}

// Send renders the message of kind k to to and queues it.
func (m *Mailer) Send(ctx context.Context, k Kind, to string, d Data) error {
	msg, err := m.Templates.Render(k, to, d)
	if err != nil {
		return err
	}
	return m.Outbox.Enqueue(ctx, msg)
}
