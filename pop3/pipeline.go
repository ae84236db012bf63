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
// with the status of line i: nil or a *ResponseError. Pipelined, the lines
// are written by a second goroutine while this one reads the replies (see
// pipeline); in lock-step, one at a time. An error from each ends the
// batch; the caller decides whether it botches (replies still in flight
// make the session unusable, so pipeline botches it anyway).
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
	for _, l := range lines {
		if len(l)+2 > maxCommandLine {
			return fmt.Errorf("%w: %s: command line longer than %d octets", ErrBadArgument, l, maxCommandLine)
		}
	}
	if win > 1 && len(lines) > 1 {
		return c.pipeline(lines, win, each)
	}
	for i := range lines {
		if err := c.send(lines[i], lines[i]); err != nil {
			return err
		}
		if err := c.flush(lines[i]); err != nil {
			return err
		}
		if err := c.readStatus(lines[i], each, i); err != nil {
			return err
		}
	}
	return nil
}

// readStatus reads the status line of lines[i]'s reply and hands it to each.
func (c *Client) readStatus(line string, each func(int, error) error, i int) error {
	r, err := c.readReply(line)
	var re *ResponseError
	if err != nil && !errors.As(err, &re) {
		return err
	}
	if err == nil && r.cont {
		return c.botch(line, fmt.Errorf("%w: unexpected continuation", ErrProtocol))
	}
	return each(i, err)
}

// pipeline sends lines from a second goroutine, at most win commands ahead
// of the replies read, while this goroutine reads the replies in order
// (RFC 2449 section 6.6: the client matches each response to its command).
// Writing and reading at once is what makes any window safe: a server
// blocked writing replies the client has not read stops reading commands,
// and a client that only writes would then block too. So the window is
// bounded by Options.PipelineWindow alone, not by TCP buffer sizes, and a
// batch of tiny replies (DELE, TOP n 0) costs one round trip, not one per
// window. Either side's failure botches the session (the first cause is
// kept) and closes the connection, which stops the other side.
func (c *Client) pipeline(lines []string, win int, each func(int, error) error) (err error) {
	credit := make(chan struct{}, win)
	for range min(win, len(lines)) {
		credit <- struct{}{}
	}
	stop := make(chan struct{})
	wdone := make(chan struct{})
	go func() {
		defer close(wdone)
		for _, line := range lines {
			select {
			case <-credit:
			default:
				// The window is full: send what is buffered, then wait.
				if err := c.bw.Flush(); err != nil {
					c.botch(line, err)
					return
				}
				select {
				case <-credit:
				case <-stop:
					return
				}
			}
			c.send(line, line) // lengths checked by batch
		}
		if err := c.bw.Flush(); err != nil {
			c.botch(lines[len(lines)-1], err)
		}
	}()
	defer func() {
		if err != nil {
			// Replies may still be in flight: the session is out of step.
			err = c.botch("pipelined "+lines[0], err)
		}
		close(stop)
		<-wdone
		if err == nil && c.Botched() != nil {
			err = c.Botched() // the writer failed after the last reply
		}
	}()
	for i := range lines {
		if err := c.readStatus(lines[i], each, i); err != nil {
			return err
		}
		if i+win < len(lines) {
			credit <- struct{}{}
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
