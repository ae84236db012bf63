package uidlstate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// jsonVersion is the value of "popdedupe_uidl_state" this package writes.
const jsonVersion = 1

type jsonFile struct {
	Version  int           `json:"popdedupe_uidl_state"`
	Accounts []jsonAccount `json:"accounts"`
}

type jsonAccount struct {
	Host     string      `json:"host"`
	Port     int         `json:"port,omitempty"`
	User     string      `json:"user"`
	PollName string      `json:"pollname,omitempty"`
	Entries  []jsonEntry `json:"entries"`
}

type jsonEntry struct {
	UID     string `json:"uid"`
	Seen    string `json:"seen,omitempty"`
	Flag    string `json:"flag,omitempty"`
	Partial bool   `json:"partial,omitempty"`
}

func (f *File) parseJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var jf jsonFile
	if err := dec.Decode(&jf); err != nil {
		var se *json.SyntaxError
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return f.perr(0, ErrTruncated, "%v", err)
		}
		if errors.As(err, &se) {
			return f.perr(lineOf(data, se.Offset), ErrSyntax, "%v", err)
		}
		return f.perr(0, ErrSyntax, "%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return f.perr(lineOf(data, dec.InputOffset()), ErrSyntax, "data after the JSON object")
	}
	if jf.Version != jsonVersion {
		return f.perr(0, ErrSyntax, "popdedupe_uidl_state is %d, want %d", jf.Version, jsonVersion)
	}
	for ai, ja := range jf.Accounts {
		if ja.Host == "" || ja.User == "" {
			return f.perr(0, ErrSyntax, "account #%d has no host or user", ai+1)
		}
		b := &block{kind: kindAcct, acct: Account{Host: ja.Host, Port: ja.Port, User: ja.User, PollName: ja.PollName}, entries: []Entry{}}
		seen := map[string]bool{}
		for ei, je := range ja.Entries {
			if err := ValidUIDL(je.UID); err != nil {
				return f.perr(0, ErrSyntax, "account %s entry #%d: %v", b.acct, ei+1, err)
			}
			if seen[je.UID] {
				return f.perr(0, ErrSyntax, "account %s: UIDL %q listed twice", b.acct, je.UID)
			}
			seen[je.UID] = true
			e := Entry{UID: je.UID, Partial: je.Partial}
			if je.Seen != "" {
				t, err := time.Parse(time.RFC3339Nano, je.Seen)
				if err != nil {
					return f.perr(0, ErrSyntax, "account %s entry %q: seen: %v", b.acct, je.UID, err)
				}
				e.Seen = t
			}
			if len(je.Flag) > 1 {
				return f.perr(0, ErrSyntax, "account %s entry %q: flag %q is longer than one character", b.acct, je.UID, je.Flag)
			}
			if je.Flag != "" {
				e.Flag = je.Flag[0]
			}
			b.entries = append(b.entries, e)
		}
		f.blocks = append(f.blocks, b)
	}
	return nil
}

func (f *File) encodeJSON() []byte {
	jf := jsonFile{Version: jsonVersion, Accounts: []jsonAccount{}}
	for _, b := range f.blocks {
		if b.kind != kindAcct {
			continue
		}
		ja := jsonAccount{Host: b.acct.Host, Port: b.acct.Port, User: b.acct.User, PollName: b.acct.PollName, Entries: []jsonEntry{}}
		for _, e := range b.entries {
			je := jsonEntry{UID: e.UID, Partial: e.Partial}
			if !e.Seen.IsZero() {
				je.Seen = e.Seen.UTC().Format(time.RFC3339Nano)
			}
			if e.Flag != 0 {
				je.Flag = string(rune(e.Flag))
			}
			ja.Entries = append(ja.Entries, je)
		}
		jf.Accounts = append(jf.Accounts, ja)
	}
	out, err := json.MarshalIndent(jf, "", "  ")
	if err != nil {
		// Only strings, ints and bools: cannot fail.
		panic(fmt.Sprintf("uidlstate: encode json: %v", err))
	}
	return append(out, '\n')
}

func lineOf(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}
