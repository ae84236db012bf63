package pop3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// window returns how many commands may be in flight: Options.PipelineWindow
// when CAPA lists PIPELINING (RFC 2449 section 6.6), else 1 (lock-step).
func (c *Client) window(ctx context.Context) (int, error) {
	capa, err := c.Capa(ctx)
	if err != nil {
		var re *ResponseError
		if errors.As(err, &re) {
			return 1, nil
		}
		return 0, err
	}
	if capa.Pipelining {
		return c.opt.PipelineWindow, nil
	}
	return 1, nil
}

// batch sends lines keeping up to window commands in flight and calls each
// with the status of line i: nil or a *ResponseError. The commands are tiny
// and bounded in number, so writes never block on a server that is itself
// blocked writing replies we have not read yet. An error from each ends the
// batch; the caller decides whether it botches.
func (c *Client) batch(ctx context.Context, lines []string, each func(i int, status error) error) error {
	win, err := c.window(ctx)
	if err != nil {
		return err
	}
	end, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	sent := 0
	for i := range lines {
		for sent < len(lines) && sent-i < win {
			if err := c.send(lines[sent], lines[sent]); err != nil {
				return c.botch(lines[sent], err) // earlier commands are in flight
			}
			sent++
		}
		if err := c.flush(lines[i]); err != nil {
			return err
		}
		r, err := c.readReply(lines[i])
		var re *ResponseError
		if err != nil && !errors.As(err, &re) {
			return err
		}
		if err == nil && r.cont {
			return c.botch(lines[i], fmt.Errorf("%w: unexpected continuation", ErrProtocol))
		}
		if err := each(i, err); err != nil {
			return err
		}
	}
	return nil
}

func numLines(verb string, nums []int, suffix string) ([]string, error) {
	lines := make([]string, len(nums))
	for i, n := range nums {
		if err := checkNum(n); err != nil {
			return nil, err
		}
		lines[i] = verb + " " + strconv.Itoa(n) + suffix
	}
	return lines, nil
}

// RetrEach retrieves the messages nums, pipelined when the server
// advertises PIPELINING and in lock-step otherwise, and calls fn with each
// message's data (dot-stuffing undone, CRLF turned into LF). r is valid only
// during the call; whatever fn leaves unread is discarded. An error from fn
// botches the session (no QUIT will be sent) and is returned. Messages
// answered -ERR are skipped; the first such *ResponseError is returned after
// the batch, with the session still usable.
func (c *Client) RetrEach(ctx context.Context, nums []int, fn func(n int, r io.Reader) error) error {
	lines, err := numLines("RETR", nums, "")
	if err != nil {
		return err
	}
	return c.fetchEach(ctx, nums, lines, fn)
}

// TopEach is RetrEach with TOP n lines: headers, the blank line and the
// first lines of each body.
func (c *Client) TopEach(ctx context.Context, nums []int, lines int, fn func(n int, r io.Reader) error) error {
	if lines < 0 {
		return fmt.Errorf("%w: TOP line count %d", ErrBadArgument, lines)
	}
	cmds, err := numLines("TOP", nums, " "+strconv.Itoa(lines))
	if err != nil {
		return err
	}
	return c.fetchEach(ctx, nums, cmds, fn)
}

func (c *Client) fetchEach(ctx context.Context, nums []int, lines []string, fn func(int, io.Reader) error) error {
	var first error
	err := c.batch(ctx, lines, func(i int, status error) error {
		if status != nil {
			if first == nil {
				first = status
			}
			return nil
		}
		d := c.data(lines[i])
		if err := fn(nums[i], d); err != nil {
			return c.botch(lines[i], fmt.Errorf("callback: %w", err))
		}
		if err := d.drain(); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return first
}

// DeleEach marks the messages nums deleted, pipelined when the server
// advertises PIPELINING. errs[i] is nil or the *ResponseError for nums[i].
// err is the first of those, or the error that botched the session (then
// errs is incomplete). Deletions take effect only when Quit returns nil.
func (c *Client) DeleEach(ctx context.Context, nums []int) (errs []error, err error) {
	lines, err := numLines("DELE", nums, "")
	if err != nil {
		return nil, err
	}
	errs = make([]error, len(nums))
	var first error
	err = c.batch(ctx, lines, func(i int, status error) error {
		errs[i] = status
		if first == nil {
			first = status
		}
		return nil
	})
	if err != nil {
		return errs, err
	}
	return errs, first
}
