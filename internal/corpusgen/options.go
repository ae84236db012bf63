package corpusgen

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Quoting is how an mbox writer escapes body lines that would otherwise read
// as a From_ separator (RFC 4155, appendix A).
type Quoting int

const (
	// MboxO prefixes "From " lines with '>'. Lines that already start with
	// ">From " are left alone, so undoing the quoting is ambiguous.
	MboxO Quoting = iota
	// MboxRD prefixes every line matching ^>*From  with one more '>', which
	// a reader undoes exactly by removing one '>'.
	MboxRD
)

// String returns "mboxo" or "mboxrd".
func (q Quoting) String() string {
	switch q {
	case MboxO:
		return "mboxo"
	case MboxRD:
		return "mboxrd"
	}
	return fmt.Sprintf("Quoting(%d)", int(q))
}

// Set parses "mboxo" or "mboxrd"; it makes *Quoting a flag.Value.
func (q *Quoting) Set(s string) error {
	switch s {
	case "mboxo":
		*q = MboxO
	case "mboxrd":
		*q = MboxRD
	default:
		return fmt.Errorf("corpusgen: unknown mbox quoting %q (want mboxo or mboxrd)", s)
	}
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (q Quoting) MarshalText() ([]byte, error) { return []byte(q.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (q *Quoting) UnmarshalText(b []byte) error { return q.Set(string(b)) }

// Options describe one incident. Shares are probabilities in [0, 1] and are
// taken literally (0 means none); zero sizes, MaxCopies and Start get the
// defaults named on each field. DefaultOptions gives a realistic mix.
type Options struct {
	Seed     int64 `json:"seed"`
	Messages int   `json:"messages"` // distinct messages on the server, >= 1

	// DupShare is the share of locally saved messages that were downloaded
	// more than once; each of them has 2..MaxCopies local copies.
	DupShare  float64 `json:"dup_share"`
	MaxCopies int     `json:"max_copies"` // 2..10 (0: 4)

	// Size of a server copy in bytes, drawn log-normally (most mail is
	// small, a few messages carry large attachments) and clamped to
	// [MinSize, MaxSize]; MeanSize is the target mean after clamping.
	MinSize  int `json:"min_size"`  // 0: 2 KiB; at least 1 KiB
	MaxSize  int `json:"max_size"`  // 0: 200 KiB
	MeanSize int `json:"mean_size"` // 0: 20 KiB (or the middle of a narrower range)

	NoMessageIDShare float64 `json:"no_message_id_share"` // messages without a Message-ID header
	// ConflictShare is the share of messages that reuse an earlier
	// message's Message-ID with a different body (the same post delivered
	// again through a mailing list that appends a footer). At most 0.2.
	ConflictShare float64 `json:"conflict_share"`
	// UnsavedShare is the share of server messages with no local copy.
	UnsavedShare float64 `json:"unsaved_share"`
	// CRLFShare is the share of local copies stored with CRLF line ends.
	CRLFShare float64 `json:"crlf_share"`
	// ClientHeaderShare is the share of local copies carrying the header
	// lines a POP3 client adds (Status, X-UIDL, X-Mozilla-Status, ...).
	ClientHeaderShare float64 `json:"client_header_share"`
	// TrailingBlankShare is the share of local copies ending with one
	// extra blank line.
	TrailingBlankShare float64 `json:"trailing_blank_share"`

	Quoting Quoting `json:"quoting"` // mbox writers only

	// Folders are the Maildir++ folder names (without the leading dot;
	// nested names use dots). Empty: Archive, Archive.2024, Lists.go-nuts,
	// Receipts.
	Folders []string `json:"folders,omitempty"`

	// Start is when the incident began: every original download happens
	// before it and every re-download burst within four hours after it.
	// Zero: 2025-03-10 09:00:00 UTC.
	Start time.Time `json:"start"`
}

// DefaultOptions returns a realistic incident: half the messages
// re-downloaded, up to four copies, sizes 2 KiB..200 KiB with mean 20 KiB,
// 3% without Message-ID, 1% conflicts, 15% CRLF copies, mboxrd quoting.
func DefaultOptions(seed int64, messages int) Options {
	return Options{
		Seed:               seed,
		Messages:           messages,
		DupShare:           0.5,
		MaxCopies:          4,
		MinSize:            2 << 10,
		MaxSize:            200 << 10,
		MeanSize:           20 << 10,
		NoMessageIDShare:   0.03,
		ConflictShare:      0.01,
		CRLFShare:          0.15,
		ClientHeaderShare:  0.6,
		TrailingBlankShare: 0.1,
		Quoting:            MboxRD,
	}
}

var defaultFolders = []string{"Archive", "Archive.2024", "Lists.go-nuts", "Receipts"}

var defaultStart = time.Date(2025, time.March, 10, 9, 0, 0, 0, time.UTC)

// Room kept below MaxSize for the parts of a message that do not come from
// its size target (trace headers, a mailing-list footer), and above MinSize
// for the slack of filling text to a target.
const (
	sizeReserveHigh = 900
	sizeReserveLow  = 300
)

// withDefaults fills zero fields and checks the ranges.
func (o Options) withDefaults() (Options, error) {
	if o.MaxCopies == 0 {
		o.MaxCopies = 4
	}
	if o.MinSize == 0 {
		o.MinSize = 2 << 10
	}
	if o.MaxSize == 0 {
		o.MaxSize = 200 << 10
	}
	if o.MeanSize == 0 {
		o.MeanSize = 20 << 10
		lo, hi := o.MinSize+sizeReserveLow, o.MaxSize-sizeReserveHigh
		if o.MeanSize > lo+(hi-lo)/2 || o.MeanSize < lo+(hi-lo)/20 {
			o.MeanSize = lo + (hi-lo)/4
		}
	}
	if len(o.Folders) == 0 {
		o.Folders = defaultFolders
	}
	if o.Start.IsZero() {
		o.Start = defaultStart
	}
	o.Start = o.Start.UTC()
	var errs []error
	if o.Messages < 1 {
		errs = append(errs, fmt.Errorf("corpusgen: Messages = %d, want >= 1", o.Messages))
	}
	if o.MaxCopies < 2 || o.MaxCopies > 10 {
		errs = append(errs, fmt.Errorf("MaxCopies = %d, want 2..10", o.MaxCopies))
	}
	if o.MinSize < 1024 {
		errs = append(errs, fmt.Errorf("MinSize = %d, want >= 1024", o.MinSize))
	}
	if o.MaxSize-sizeReserveHigh < o.MinSize+sizeReserveLow+256 {
		errs = append(errs, fmt.Errorf("MaxSize = %d, want >= MinSize+%d", o.MaxSize, sizeReserveHigh+sizeReserveLow+256))
	}
	lo, hi := o.MinSize+sizeReserveLow, o.MaxSize-sizeReserveHigh
	if o.MeanSize <= lo || o.MeanSize >= hi {
		errs = append(errs, fmt.Errorf("MeanSize = %d, want strictly between %d and %d", o.MeanSize, lo, hi))
	}
	for _, s := range []struct {
		name string
		v    float64
		max  float64
	}{
		{"DupShare", o.DupShare, 1},
		{"NoMessageIDShare", o.NoMessageIDShare, 1},
		{"ConflictShare", o.ConflictShare, 0.2},
		{"UnsavedShare", o.UnsavedShare, 1},
		{"CRLFShare", o.CRLFShare, 1},
		{"ClientHeaderShare", o.ClientHeaderShare, 1},
		{"TrailingBlankShare", o.TrailingBlankShare, 1},
	} {
		if math.IsNaN(s.v) || s.v < 0 || s.v > s.max {
			errs = append(errs, fmt.Errorf("%s = %v, want 0..%v", s.name, s.v, s.max))
		}
	}
	if o.ConflictShare > 0 && o.NoMessageIDShare >= 1 {
		errs = append(errs, errors.New("ConflictShare > 0 needs messages with a Message-ID"))
	} else if o.ConflictShare > 0.25*(1-o.NoMessageIDShare) {
		errs = append(errs, fmt.Errorf("ConflictShare = %v, want <= %v with NoMessageIDShare = %v", o.ConflictShare, 0.25*(1-o.NoMessageIDShare), o.NoMessageIDShare))
	}
	if o.Quoting != MboxO && o.Quoting != MboxRD {
		errs = append(errs, fmt.Errorf("Quoting = %d, want MboxO or MboxRD", int(o.Quoting)))
	}
	for _, f := range o.Folders {
		if f == "" || f[0] == '.' || f[len(f)-1] == '.' || strings.ContainsAny(f, "/\x00") {
			errs = append(errs, fmt.Errorf("corpusgen: Folders: bad Maildir++ folder name %q", f))
		}
	}
	if len(errs) > 0 {
		return o, fmt.Errorf("corpusgen: bad options: %w", errors.Join(errs...))
	}
	return o, nil
}
