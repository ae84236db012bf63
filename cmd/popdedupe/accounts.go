package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/popdedupe/popdedupe/reconcile"
	"github.com/popdedupe/popdedupe/report"
	"github.com/popdedupe/popdedupe/uidlstate"
)

// account is one entry of an --accounts file. The JSON names are the
// file format (README "Many accounts").
type account struct {
	Name         string   `json:"name,omitempty"` // default USER@SERVER
	Server       string   `json:"server"`
	User         string   `json:"user"`
	PasswordFile string   `json:"password_file,omitempty"`
	Stores       []string `json:"stores"`
	State        string   `json:"state,omitempty"`
	TLS          string   `json:"tls,omitempty"`
	CA           string   `json:"ca,omitempty"`
	FetchMissing string   `json:"fetch_missing,omitempty"`
	DeleteSaved  bool     `json:"delete_saved,omitempty"`

	where string // "FILE:LINE" or "FILE: account N", for errors
	state *uidlstate.Target
	tls   reconcile.TLSMode
}

// readAccounts reads an --accounts file: a JSON array of accounts, or the
// line format
//
//	# comment
//	SERVER USER PASSWORD-FILE STORE... [state=FORMAT:PATH] [tls=MODE] [ca=FILE] [fetch-missing=PATH] [delete-saved] [name=NAME]
//
// with "-" as PASSWORD-FILE for none (POPDEDUPE_PASSWORD or ~/.netrc then).
// Every entry is checked before any is run: a bad file is a usage error
// naming the entry.
func readAccounts(path string) ([]*account, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErrorf("--accounts: %v", err)
	}
	var accts []*account
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&accts); err != nil {
			return nil, usageErrorf("--accounts %s: %v", path, err)
		}
		for i, a := range accts {
			if a == nil {
				return nil, usageErrorf("--accounts %s: account %d is null", path, i+1)
			}
			a.where = fmt.Sprintf("%s: account %d", path, i+1)
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			a, err := parseAccountLine(line)
			if err != nil {
				return nil, usageErrorf("--accounts %s:%d: %v", path, n, err)
			}
			a.where = fmt.Sprintf("%s:%d", path, n)
			accts = append(accts, a)
		}
		if err := sc.Err(); err != nil {
			return nil, usageErrorf("--accounts %s: %v", path, err)
		}
	}
	if len(accts) == 0 {
		return nil, usageErrorf("--accounts %s: no accounts in it", path)
	}
	names := map[string]string{}
	for _, a := range accts {
		if err := a.check(); err != nil {
			return nil, usageErrorf("--accounts %s: %v", a.where, err)
		}
		if prev, ok := names[a.Name]; ok {
			return nil, usageErrorf("--accounts %s: account %q is also at %s (give each a distinct name)", a.where, a.Name, prev)
		}
		names[a.Name] = a.where
	}
	return accts, nil
}

func parseAccountLine(line string) (*account, error) {
	f := strings.Fields(line)
	if len(f) < 4 {
		return nil, errors.New("want SERVER USER PASSWORD-FILE STORE... [key=value...]")
	}
	a := &account{Server: f[0], User: f[1], PasswordFile: f[2]}
	if a.PasswordFile == "-" {
		a.PasswordFile = ""
	}
	for _, w := range f[3:] {
		k, v, ok := strings.Cut(w, "=")
		switch {
		case !ok && w == "delete-saved":
			a.DeleteSaved = true
		case !ok:
			a.Stores = append(a.Stores, w)
		case k == "state":
			a.State = v
		case k == "tls":
			a.TLS = v
		case k == "ca":
			a.CA = v
		case k == "fetch-missing":
			a.FetchMissing = v
		case k == "name":
			a.Name = v
		case k == "delete-saved" && (v == "true" || v == "false"):
			a.DeleteSaved = v == "true"
		default:
			return nil, fmt.Errorf("unknown option %q (state=, tls=, ca=, fetch-missing=, name=, delete-saved)", w)
		}
	}
	return a, nil
}

// check validates an account and expands "~" in its paths.
func (a *account) check() error {
	if a.Server == "" || a.User == "" {
		return errors.New("server and user are required")
	}
	if len(a.Stores) == 0 {
		return errors.New("name at least one store")
	}
	if a.Name == "" {
		a.Name = a.User + "@" + a.Server
	}
	var err error
	for i := range a.Stores {
		if a.Stores[i], err = uidlstate.ExpandHome(a.Stores[i]); err != nil {
			return err
		}
	}
	for _, p := range []*string{&a.PasswordFile, &a.CA} {
		if *p != "" {
			if *p, err = uidlstate.ExpandHome(*p); err != nil {
				return err
			}
		}
	}
	if a.FetchMissing != "" {
		path := fetchPath(a.FetchMissing)
		exp, err := uidlstate.ExpandHome(path)
		if err != nil {
			return err
		}
		a.FetchMissing = strings.TrimSuffix(a.FetchMissing, path) + exp
	}
	if a.State != "" {
		t, err := uidlstate.ParseTarget(a.State)
		if err != nil {
			return fmt.Errorf("state: %v", err)
		}
		a.state = &t
	}
	a.tls = reconcile.TLSAuto
	if a.TLS != "" {
		if err := a.tls.Set(a.TLS); err != nil {
			return fmt.Errorf("tls: %v", err)
		}
	}
	o := reconcile.Options{Server: a.Server, TLS: a.tls}
	if _, _, _, err := o.Endpoint(); err != nil {
		return err
	}
	return nil
}

// accountLine is one JSON line of `repair --accounts --json`.
type accountLine struct {
	Version  int            `json:"version"`
	Command  string         `json:"command"`
	Account  string         `json:"account"`
	ExitCode int            `json:"exit_code"`
	Error    string         `json:"error,omitempty"`
	Result   *report.Repair `json:"result"` // null when the repair never started
}

// accountsSummary is the last JSON line.
type accountsSummary struct {
	Version  int          `json:"version"`
	Command  string       `json:"command"`
	Summary  summaryCount `json:"summary"`
	ExitCode int          `json:"exit_code"`
}

type summaryCount struct {
	Accounts int      `json:"accounts"`
	Done     int      `json:"done"`    // exit 0
	Work     int      `json:"work"`    // exit 3: dry run with work to do
	Skipped  int      `json:"skipped"` // exit 4
	Failed   int      `json:"failed"`  // exit 1 or 2
	FailedAt []string `json:"failed_accounts"`
}

// severity orders exit codes for "the worst over all accounts": failed,
// then usage, then work to do, then skipped, then done.
func severity(code int) int {
	return map[int]int{exitOK: 0, exitSkipped: 1, exitWork: 2, exitUsage: 3, exitFailed: 4}[code]
}

// keyedMutex lets runs that share a store, a fetch target or a state file
// take turns inside one process (the run locks would refuse the second).
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func (k *keyedMutex) lock(keys []string) func() {
	var abs []string
	for _, key := range keys {
		if a, err := filepath.Abs(key); err == nil {
			key = a
		}
		abs = append(abs, key)
	}
	slices.Sort(abs) // one order for everybody: no deadlock
	abs = slices.Compact(abs)
	var held []*sync.Mutex
	for _, key := range abs {
		k.mu.Lock()
		m := k.locks[key]
		if m == nil {
			m = new(sync.Mutex)
			k.locks[key] = m
		}
		k.mu.Unlock()
		m.Lock()
		held = append(held, m)
	}
	return func() {
		for _, m := range held {
			m.Unlock()
		}
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9@._+-]+`)

// runAccounts repairs every account of the file, at most parallel at a
// time. One account's failure never stops the others. Results are printed
// in file order as they become available, then a summary.
func runAccounts(ctx context.Context, base *repairConfig, path string, parallel int, stdout, stderr io.Writer) error {
	accts, err := readAccounts(path)
	if err != nil {
		return err
	}
	reportDir := base.report.path
	if reportDir != "" {
		if err := os.MkdirAll(reportDir, 0o700); err != nil {
			return fmt.Errorf("--report: %w", err)
		}
	}
	type result struct {
		rep *report.Repair
		err error
	}
	results := make([]result, len(accts))
	done := make([]chan struct{}, len(accts))
	for i := range done {
		done[i] = make(chan struct{})
	}
	km := &keyedMutex{locks: map[string]*sync.Mutex{}}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(parallel, len(accts)) {
		wg.Go(func() {
			for i := range next {
				results[i].rep, results[i].err = runAccount(ctx, base, accts[i], reportDir, km, stderr)
				close(done[i])
			}
		})
	}
	go func() {
		for i := range accts {
			next <- i
		}
		close(next)
	}()

	sum := summaryCount{Accounts: len(accts), FailedAt: []string{}}
	worst := 0
	var worstErr error
	for i, a := range accts {
		<-done[i]
		r := results[i]
		code := exitCode(r.err)
		switch code {
		case exitOK:
			sum.Done++
		case exitWork:
			sum.Work++
		case exitSkipped:
			sum.Skipped++
		default:
			sum.Failed++
			sum.FailedAt = append(sum.FailedAt, a.Name)
		}
		if severity(code) > severity(worst) {
			worst, worstErr = code, r.err
		}
		msg := ""
		if code == exitFailed || code == exitUsage {
			msg = r.err.Error()
		}
		if base.scan.json {
			line, err := json.Marshal(accountLine{Version: report.Version, Command: "repair", Account: a.Name, ExitCode: code, Error: msg, Result: r.rep})
			if err != nil {
				return err
			}
			stdout.Write(append(line, '\n'))
			continue
		}
		fmt.Fprintf(stdout, "=== %s (%s): exit %d\n", a.Name, a.where, code)
		if r.rep != nil {
			if base.scan.quiet {
				q, d := *r.rep, *r.rep.Dedupe
				d.Scan, q.Dedupe = nil, &d
				q.WriteText(stdout, false)
			} else {
				r.rep.WriteText(stdout, base.scan.verbose)
			}
		} else if msg != "" {
			fmt.Fprintf(stdout, "Error:   %s\n", msg)
		}
		fmt.Fprintln(stdout)
	}
	wg.Wait()
	if base.scan.json {
		line, _ := json.Marshal(accountsSummary{Version: report.Version, Command: "repair", Summary: sum, ExitCode: worst})
		stdout.Write(append(line, '\n'))
	} else {
		fmt.Fprintf(stdout, "Accounts: %d: %d done, %d with work to do (dry run), %d with skipped messages, %d failed", sum.Accounts, sum.Done, sum.Work, sum.Skipped, sum.Failed)
		if sum.Failed > 0 {
			fmt.Fprintf(stdout, " (%s)", strings.Join(sum.FailedAt, ", "))
		}
		fmt.Fprintf(stdout, ". Exit code %d.\n", worst)
	}
	switch worst {
	case exitOK:
		return nil
	case exitFailed:
		return fmt.Errorf("%d of %d accounts failed: %s (%w)", sum.Failed, sum.Accounts, strings.Join(sum.FailedAt, ", "), errJSONWritten)
	case exitUsage:
		return fmt.Errorf("%w: %d of %d accounts failed: %s (%w)", errUsage, sum.Failed, sum.Accounts, strings.Join(sum.FailedAt, ", "), errJSONWritten)
	}
	return worstErr
}

// runAccount repairs one account with the shared flags of base.
func runAccount(ctx context.Context, base *repairConfig, a *account, reportDir string, km *keyedMutex, stderr io.Writer) (rep *report.Repair, err error) {
	defer func() {
		if p := recover(); p != nil {
			rep, err = nil, fmt.Errorf("internal error: %v", p)
		}
	}()
	c := *base
	c.rec.Server, c.rec.User, c.rec.TLS = a.Server, a.User, a.tls
	c.rec.DeleteSaved = base.rec.DeleteSaved || a.DeleteSaved
	c.rec.FetchMissing = a.FetchMissing
	c.passwordFile, c.caFile, c.stores = a.PasswordFile, a.CA, a.Stores
	c.state = stateFlag{t: a.state}
	c.noPrompt = true
	c.scan.progress = "never"
	c.traceFile = ""
	c.report = reportFlag{}
	if reportDir != "" {
		c.report.path = filepath.Join(reportDir, unsafeName.ReplaceAllString(a.Name, "_")+".html")
	}
	c.serialize = func(keys []string) func() { return km.lock(keys) }
	return repairAndReport(ctx, &c, stderr)
}
