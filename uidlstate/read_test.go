package uidlstate

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestReadEntries(t *testing.T) {
	alice := Account{Host: "pop.example.com", User: "alice"}
	tests := []struct {
		format Format
		in     string
		acct   Account
		want   []Entry
	}{
		// fetchmail: case-insensitive account, "@" in user and UIDL,
		// leading blanks, a space in the user (Lotus Notes).
		{Fetchmail, "alice@pop.example.com 000000016b082e9d\n", alice, []Entry{{UID: "000000016b082e9d"}}},
		{Fetchmail, "ALICE@Pop.Example.COM a\n", alice, []Entry{{UID: "a"}}},
		{Fetchmail, "  alice@pop.example.com <x@y>\n", alice, []Entry{{UID: "<x@y>"}}},
		{Fetchmail, "a@b@pop.example.com u1\n", Account{Host: "pop.example.com", User: "a@b"}, []Entry{{UID: "u1"}}},
		{Fetchmail, "John Doe@pop.example.com u1\n", Account{Host: "pop.example.com", User: "John Doe"}, []Entry{{UID: "u1"}}},
		{Fetchmail, "alice@poll1 u1\nalice@pop.example.com u2\n", Account{Host: "pop.example.com", User: "alice", PollName: "poll1"}, []Entry{{UID: "u1"}}},
		{Fetchmail, "alice@pop.example.com u1\nbob@x u9\n\nalice@pop.example.com u2\n", alice, []Entry{{UID: "u1"}, {UID: "u2"}}},
		{Fetchmail, "", alice, nil},
		// getmail: times, a duplicate keeps the last time (Python dict).
		{Getmail, "u1\x001700000000\nu2\x001700000001\nu1\x001700000002\n", alice,
			[]Entry{{UID: "u1", Seen: time.Unix(1700000002, 0).UTC()}, {UID: "u2", Seen: time.Unix(1700000001, 0).UTC()}}},
		{Getmail, "  u1\x0017\n\n", alice, []Entry{{UID: "u1", Seen: time.Unix(17, 0).UTC()}}},
		// mpop: exact account match.
		{Mpop, "# c\n 2 pop.example.com alice\na\nb\n", alice, []Entry{{UID: "a"}, {UID: "b"}}},
		{Mpop, " 1 POP.example.com alice\na\n", alice, nil},
		{Mpop, " 1 other bob\nz\n# c\n 1 pop.example.com alice\n# inside\nq\n", alice, []Entry{{UID: "q"}}},
		// thunderbird: both line ends, flags, partial.
		{Thunderbird, "# POP3 State File\n\n*pop.example.com alice\nk u1 5\nb u2 6", alice,
			[]Entry{{UID: "u1", Seen: time.Unix(5, 0).UTC(), Flag: 'k'}, {UID: "u2", Seen: time.Unix(6, 0).UTC(), Flag: 'b', Partial: true}}},
		{Thunderbird, "# POP3 State File\r\n\r\n*POP.EXAMPLE.COM alice\r\nd u1 5\r\n", alice, []Entry{{UID: "u1", Seen: time.Unix(5, 0).UTC(), Flag: 'd'}}},
		{Thunderbird, "*pop.example.com bob\nk u1 5\n", alice, nil},
		// claws: optional fields of older versions.
		{Claws, "u1\t5\t0\nu2\t6\t1\nu3\t7\nu4\n", alice, []Entry{
			{UID: "u1", Seen: time.Unix(5, 0).UTC(), Flag: '0'},
			{UID: "u2", Seen: time.Unix(6, 0).UTC(), Flag: '1', Partial: true},
			{UID: "u3", Seen: time.Unix(7, 0).UTC(), Flag: '0'},
			{UID: "u4", Flag: '0'}}},
		// json: port must match when both give one.
		{JSON, `{"popdedupe_uidl_state":1,"accounts":[{"host":"pop.example.com","port":995,"user":"alice","entries":[{"uid":"u1","flag":"k","partial":true}]}]}`,
			alice, []Entry{{UID: "u1", Flag: 'k', Partial: true}}},
		{JSON, `{"popdedupe_uidl_state":1,"accounts":[{"host":"pop.example.com","port":995,"user":"alice","entries":[{"uid":"u1"}]}]}`,
			Account{Host: "pop.example.com", Port: 110, User: "alice"}, nil},
	}
	for i, tt := range tests {
		f, err := Read(tt.format, strings.NewReader(tt.in), "")
		if err != nil {
			t.Errorf("#%d Read(%s, %q): %v", i, tt.format, tt.in, err)
			continue
		}
		if got := f.Entries(tt.acct); !slices.Equal(got, tt.want) {
			t.Errorf("#%d Read(%s, %q).Entries(%v)\n got %v\nwant %v", i, tt.format, tt.in, tt.acct, got, tt.want)
		}
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		format Format
		in     string
		want   error
		line   int
	}{
		{Fetchmail, "alice@pop.example.com u1", ErrTruncated, 1},
		{Fetchmail, "alice@pop.example.com u1\r\n", ErrSyntax, 1},
		{Fetchmail, "alice@pop.example.com u1\nno at sign here\n", ErrSyntax, 2},
		{Fetchmail, "alice@pop.example.com\n", ErrSyntax, 1},
		{Fetchmail, "alice@pop.example.com u1 extra\n", ErrSyntax, 1},
		{Fetchmail, "@pop.example.com u1\n", ErrSyntax, 1},
		{Fetchmail, "\x00\x01\x02garbage\n", ErrSyntax, 1},
		{Getmail, "u1\x00170000", ErrTruncated, 1},
		{Getmail, "u1 1700000000\n", ErrSyntax, 1},
		{Getmail, "u1\x00notanumber\n", ErrSyntax, 1},
		{Getmail, "\x00123\n", ErrSyntax, 1},
		{Getmail, "u\x01\x00123\n", ErrSyntax, 1},
		{Mpop, " 2 h u\na\n", ErrTruncated, 0},
		{Mpop, " 2 h u\na\n 1 h2 u2\nb\n", ErrSyntax, 3},
		{Mpop, "a\n", ErrSyntax, 1},
		{Mpop, "\n", ErrSyntax, 1},
		{Mpop, " 0 h u\n", ErrSyntax, 1},
		{Mpop, " x h u\n", ErrSyntax, 1},
		{Mpop, " 1 h\nx\n", ErrSyntax, 1},
		{Mpop, " 1 h u v\nx\n", ErrSyntax, 1},
		{Mpop, " 1 h u\nx", ErrTruncated, 2},
		{Mpop, " 1 h u\nx\x00y\n", ErrSyntax, 2},
		{Thunderbird, "k u1 5\n", ErrSyntax, 1},
		{Thunderbird, "*host\nk u1 5\n", ErrSyntax, 1},
		{Thunderbird, "*h u\nx u1 5\n", ErrSyntax, 2},
		{Thunderbird, "*h u\nk u1\n", ErrSyntax, 2},
		{Thunderbird, "*h u\nk u1 5 6\n", ErrSyntax, 2},
		{Thunderbird, "*h u\nk u1 -5\n", ErrSyntax, 2},
		{Thunderbird, "*h u\nk  5\n", ErrSyntax, 2},
		{Thunderbird, "*h u\n\x7fk u1 5\n", ErrSyntax, 2},
		{Claws, "u1\t5\t0", ErrTruncated, 1},
		{Claws, "u1\tx\t0\n", ErrSyntax, 1},
		{Claws, "u1\t5\t7\n", ErrSyntax, 1},
		{Claws, "u1\t5\t0\t9\n", ErrSyntax, 1},
		{Claws, "u 1\t5\t0\n", ErrSyntax, 1},
		{JSON, `{"popdedupe_uidl_state":1,"accounts":[`, ErrTruncated, 0},
		{JSON, `{"popdedupe_uidl_state":2,"accounts":[]}`, ErrSyntax, 0},
		{JSON, `{"popdedupe_uidl_state":1,"accounts":[],"x":1}`, ErrSyntax, 0},
		{JSON, `{"popdedupe_uidl_state":1,"accounts":[]} {}`, ErrSyntax, 1},
		{JSON, `{"popdedupe_uidl_state":1,"accounts":[{"host":"h","user":"u","entries":[{"uid":"a b"}]}]}`, ErrSyntax, 0},
		{JSON, `{"popdedupe_uidl_state":1,"accounts":[{"host":"h","user":"u","entries":[{"uid":"a"},{"uid":"a"}]}]}`, ErrSyntax, 0},
		{JSON, `{"popdedupe_uidl_state":1,"accounts":[{"host":"","user":"u","entries":[]}]}`, ErrSyntax, 0},
		{JSON, "{\n\n!", ErrSyntax, 3},
	}
	for i, tt := range tests {
		_, err := Read(tt.format, strings.NewReader(tt.in), "state")
		if !errors.Is(err, tt.want) {
			t.Errorf("#%d Read(%s, %q) = %v, want %v", i, tt.format, tt.in, err, tt.want)
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("#%d Read(%s, %q): %T is not a *ParseError", i, tt.format, tt.in, err)
			continue
		}
		if pe.Line != tt.line || pe.Path != "state" || pe.Format != tt.format {
			t.Errorf("#%d Read(%s, %q): error at %s:%d (%s), want state:%d: %v", i, tt.format, tt.in, pe.Path, pe.Line, pe.Format, tt.line, err)
		}
		if !strings.Contains(err.Error(), "state") {
			t.Errorf("#%d error %q does not name the file", i, err)
		}
	}
}

func TestReplaceKeepsOtherAccounts(t *testing.T) {
	alice := Account{Host: "pop.example.com", User: "alice"}
	tests := []struct {
		format Format
		in     string
		want   string
	}{
		// The other accounts' lines stay byte for byte, in place; alice's
		// block replaces her first block, her other lines go.
		{Fetchmail, "bob@x  b1\t\nalice@pop.example.com a\n\nbob@x b2\nALICE@pop.example.com z\n",
			"bob@x  b1\t\nalice@pop.example.com n1\nalice@pop.example.com n2\n\nbob@x b2\n"},
		// A new account goes first, as fetchmail writes the polled
		// accounts before the others.
		{Fetchmail, "bob@x b1\n", "alice@pop.example.com n1\nalice@pop.example.com n2\nbob@x b1\n"},
		{Mpop, "# keep me\n 1 x bob\nb\n", "# keep me\n 1 x bob\nb\n 2 pop.example.com alice\nn1\nn2\n"},
		{Mpop, "# c\n 1 pop.example.com alice\n# inner\nold\n 1 x bob\nb\n", "# c\n 2 pop.example.com alice\nn1\nn2\n 1 x bob\nb\n"},
		{Thunderbird, "# POP3 State File\r\n\r\n*x bob\r\nk b 1\r\n*pop.example.com alice\r\nk old 2",
			"# POP3 State File\r\n\r\n*x bob\r\nk b 1\r\n*pop.example.com alice\r\nk n1 100\r\nk n2 100"},
		{Thunderbird, "*x bob\nk b 1", "*x bob\nk b 1\n*pop.example.com alice\nk n1 100\nk n2 100"},
	}
	entries := []Entry{{UID: "n1", Seen: time.Unix(100, 0)}, {UID: "n2", Seen: time.Unix(100, 0)}}
	for i, tt := range tests {
		f, err := Read(tt.format, strings.NewReader(tt.in), "")
		if err != nil {
			t.Fatalf("#%d: %v", i, err)
		}
		if err := f.Replace(alice, entries); err != nil {
			t.Fatalf("#%d: %v", i, err)
		}
		if got := string(f.Bytes()); got != tt.want {
			t.Errorf("#%d %s Replace:\n got %q\nwant %q", i, tt.format, got, tt.want)
		}
	}
}

func TestReplaceRefuses(t *testing.T) {
	alice := Account{Host: "pop.example.com", User: "alice"}
	now := time.Unix(1700000000, 0)
	tests := []struct {
		format  Format
		name    string
		acct    Account
		entries []Entry
		want    error
	}{
		{Fetchmail, "", alice, []Entry{{UID: "a b"}}, ErrIllegalUIDL},
		{Fetchmail, "", alice, []Entry{{UID: ""}}, ErrIllegalUIDL},
		{Fetchmail, "", alice, []Entry{{UID: strings.Repeat("x", 71)}}, ErrIllegalUIDL},
		{Fetchmail, "", alice, []Entry{{UID: "é"}}, ErrIllegalUIDL},
		{Fetchmail, "", alice, []Entry{{UID: "a"}, {UID: "a"}}, ErrDuplicateUIDL},
		{Getmail, "", alice, []Entry{{UID: "a"}}, nil}, // no time
		{Getmail, "", alice, []Entry{{UID: "a/b", Seen: now}}, ErrIllegalUIDL},
		{Getmail, "/home/a/.getmail/oldmail-pop.example.com-110-bob", alice, []Entry{{UID: "a", Seen: now}}, ErrWrongAccount},
		{Claws, "/home/a/.claws-mail/uidl/pop.example.com-bob", alice, []Entry{{UID: "a", Seen: now}}, ErrWrongAccount},
		{Thunderbird, "", alice, []Entry{{UID: "a", Seen: now, Flag: 'x'}}, nil},
		{Claws, "", alice, []Entry{{UID: "a", Seen: now, Flag: 'k'}}, nil},
		{Mpop, "", Account{Host: "h", User: "a b"}, []Entry{{UID: "a"}}, nil},
		{Fetchmail, "", Account{Host: "h", User: ""}, []Entry{{UID: "a"}}, nil},
		{Fetchmail, "", Account{Host: "h\n", User: "u"}, []Entry{{UID: "a"}}, nil},
		{Fetchmail, "", Account{Host: "h", User: "x@y z"}, []Entry{{UID: "a"}}, nil},
		{Fetchmail, "", Account{Host: "h", User: " u"}, []Entry{{UID: "a"}}, nil},
		{Fetchmail, "", Account{Host: "h", PollName: "p q", User: "u"}, []Entry{{UID: "a"}}, nil},
	}
	for i, tt := range tests {
		f, err := New(tt.format)
		if err != nil {
			t.Fatal(err)
		}
		f.name = tt.name
		before := string(f.Bytes())
		err = f.Replace(tt.acct, tt.entries)
		if err == nil {
			t.Errorf("#%d %s Replace(%v, %v) = nil, want an error", i, tt.format, tt.acct, tt.entries)
			continue
		}
		if tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("#%d %s Replace = %v, want %v", i, tt.format, err, tt.want)
		}
		if after := string(f.Bytes()); after != before {
			t.Errorf("#%d refused Replace changed the file: %q", i, after)
		}
	}
	// A user with a space before its "@" (Lotus Notes) is fine.
	f, _ := New(Fetchmail)
	if err := f.Replace(Account{Host: "h", User: "John Doe"}, []Entry{{UID: "a"}}); err != nil || string(f.Bytes()) != "John Doe@h a\n" {
		t.Errorf("Lotus Notes user: %v %q", err, f.Bytes())
	}
	// The right account's file is accepted.
	f, _ = New(Getmail)
	f.name = "/home/a/.getmail/" + GetmailFileName(Account{Host: "pop.example.com", Port: 110, User: "alice"})
	if err := f.Replace(alice, []Entry{{UID: "a", Seen: now}}); err != nil {
		t.Errorf("getmail Replace on its own file: %v", err)
	}
}

func TestNewThunderbirdCRLF(t *testing.T) {
	f, _ := New(Thunderbird)
	if err := f.SetLineEnding(CRLF); err != nil {
		t.Fatal(err)
	}
	if err := f.Replace(Account{Host: "h", User: "u"}, []Entry{{UID: "a", Seen: time.Unix(7, 0)}}); err != nil {
		t.Fatal(err)
	}
	want := "# POP3 State File\r\n# This is a generated file!  Do not edit.\r\n\r\n*h u\r\nk a 7"
	if got := string(f.Bytes()); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// Thunderbird writes the account line even with no messages.
	f, _ = New(Thunderbird)
	f.Replace(Account{Host: "h", User: "u"}, nil)
	if got, want := string(f.Bytes()), "# POP3 State File\n# This is a generated file!  Do not edit.\n\n*h u"; got != want {
		t.Errorf("empty: got %q, want %q", got, want)
	}
	m, _ := New(Mpop)
	if err := m.SetLineEnding(CRLF); err == nil {
		t.Error("mpop accepted CRLF line ends")
	}
}

func TestAccounts(t *testing.T) {
	f, err := Read(Mpop, strings.NewReader(" 1 h1 u1\na\n 1 h2 u2\nb\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []Account{{Host: "h1", User: "u1"}, {Host: "h2", User: "u2"}}
	if got := f.Accounts(); !slices.Equal(got, want) {
		t.Errorf("Accounts = %v, want %v", got, want)
	}
	g, _ := Read(Fetchmail, strings.NewReader("u@h a\nU@H b\nv@h c\n"), "")
	if got := g.Accounts(); len(got) != 2 || got[0].User != "u" || got[1].User != "v" {
		t.Errorf("fetchmail Accounts = %v", got)
	}
}
