package reliability

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/popdedupe/popdedupe/dedupe/dedupetest"
	"github.com/popdedupe/popdedupe/internal/runlock"
	"github.com/popdedupe/popdedupe/pop3/pop3test"
)

// Disk trouble, for real: ENOSPC from a small tmpfs, EIO from an ext4
// file system on a loop device whose free blocks all lie past the end of
// the device (writes of new data fail at fsync with EIO, reads of blocks
// there fail with EIO, while everything written before stays readable).
// Both need root and mount(2); without them the tests skip and say so
// (store's POPDEDUPE_FAULT_ENOSPC_AFTER hook, used by dedupe's and
// reconcile's own tests, still covers ENOSPC in process).

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs or a loop device; ENOSPC stays covered in process by the POPDEDUPE_FAULT_ENOSPC_AFTER hook (dedupe, reconcile tests)")
	}
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// smallTmpfs mounts a tmpfs of size bytes and fills it so that about free
// bytes are left (tmpfs counts whole pages). It is unmounted at the end.
func smallTmpfs(t *testing.T, size, free int64) string {
	t.Helper()
	needRoot(t)
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.FormatInt(size, 10)); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v): the ENOSPC hook tests cover this in process", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
	if free >= 0 {
		fill(t, dir, free)
	}
	return dir
}

// fill writes a filler file into dir until about free bytes are left.
func fill(t *testing.T, dir string, free int64) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	avail := int64(st.Bavail) * int64(st.Bsize)
	if avail <= free {
		return
	}
	f, err := os.Create(filepath.Join(dir, ".filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, avail-free)); err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatal(err)
	}
}

// eioFS makes an ext4 file system on a loop device where writing new data
// fails with EIO: low() writes what must stay readable (it lands in the
// first half), the file system is filled, grown to twice its size by
// resize2fs (all free blocks now in the second half), mounted, high()
// writes files whose data lands in the second half (their cached pages are
// dropped), and the device is cut to its first half. It returns the mount
// point.
func eioFS(t *testing.T, low, high func(mnt string)) string {
	t.Helper()
	needRoot(t)
	for _, tool := range []string{"losetup", "mkfs.ext4", "e2fsck", "resize2fs", "truncate"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found (apt-get install e2fsprogs util-linux coreutils): EIO not tested", tool)
		}
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.img")
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	sh(t, "truncate", "-s", "16M", img)
	sh(t, "mkfs.ext4", "-q", "-F", "-m", "0", "-N", "512", "-O", "^has_journal", img)
	out, err := exec.Command("losetup", "-f", "--show", img).CombinedOutput()
	if err != nil {
		t.Skipf("no loop device here (%v: %s): EIO not tested", err, out)
	}
	dev := strings.TrimSpace(string(out))
	if out, err := exec.Command("mount", dev, mnt).CombinedOutput(); err != nil {
		exec.Command("losetup", "-d", dev).Run()
		t.Skipf("cannot mount a loop device here (%v: %s): EIO not tested", err, out)
	}
	low(mnt)
	fill(t, mnt, 0)
	sh(t, "umount", mnt)
	sh(t, "losetup", "-d", dev)
	sh(t, "truncate", "-s", "32M", img)
	sh(t, "e2fsck", "-f", "-y", img)
	sh(t, "resize2fs", img, "32M")
	dev = sh(t, "losetup", "-f", "--show", img)
	sh(t, "mount", dev, mnt)
	t.Cleanup(func() {
		if err := exec.Command("umount", mnt).Run(); err != nil {
			exec.Command("umount", "-l", mnt).Run()
		}
		exec.Command("losetup", "-d", dev).Run()
	})
	if high != nil {
		// Written whole, then out of the cache: a remount.
		high(mnt)
		sh(t, "umount", mnt)
		sh(t, "mount", dev, mnt)
	}
	f, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := unix.IoctlLoopGetStatus64(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	info.Sizelimit = 16 << 20
	if err := unix.IoctlLoopSetStatus64(int(f.Fd()), info); err != nil {
		t.Fatal(err)
	}
	if high != nil {
		return mnt // the caller checks its files read with EIO
	}
	// The cut works: new data cannot be made durable.
	probe := filepath.Join(mnt, ".probe")
	pf, err := os.Create(probe)
	if err == nil {
		pf.Write(make([]byte, 64<<10))
		err = pf.Sync()
		pf.Close()
		os.Remove(probe)
	}
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("the cut device does not fail writes with EIO: %v", err)
	}
	return mnt
}

// failed checks a run that met a disk error: exit 1, the cause named, and
// how to undo what was done named when a journal exists.
func failed(t *testing.T, r result, cause string) {
	t.Helper()
	wantCode(t, r, 1)
	if !strings.Contains(strings.ToLower(r.stderr+r.stdout), cause) {
		t.Errorf("the error does not name the cause %q:\n%s", cause, r)
	}
}

// moveWorld moves the world's stores under root (a mount point), so that
// they live on that file system.
func moveWorld(t *testing.T, w *world, root string) {
	t.Helper()
	var moved []string
	for _, s := range w.stores {
		to := filepath.Join(root, filepath.Base(s))
		dedupetest.CopyTree(t, s, to)
		moved = append(moved, to)
	}
	os.RemoveAll(w.dir)
	w.stores = moved
	w.record(t)
}

// TestDiskFull: ENOSPC in each place popdedupe writes.
func TestDiskFull(t *testing.T) {
	needRoot(t)
	t.Run("quarantine", func(t *testing.T) {
		// Room for two quarantined copies, not for all: the run stops
		// at the first failure, names it and its journal.
		w := handIncident(t)
		q := filepath.Join(smallTmpfs(t, 1<<20, 8<<10), "q")
		r := w.e.run(t, nil, w.dedupeArgs("--apply", "--quarantine", q)...)
		failed(t, r, "no space left on device")
		w.noLoss(t, "after ENOSPC in the quarantine", q)
		if js := w.journals(); len(js) == 1 {
			if !strings.Contains(r.stderr, js[0]) {
				t.Errorf("the error does not name the journal %s:\n%s", js[0], r)
			}
			wantCode(t, w.e.run(t, nil, "undo", js[0]), 0)
			w.restored(t, "after undo")
		} else {
			t.Errorf("%d journals", len(js))
		}
	})
	t.Run("undo across file systems keeps mode and owner", func(t *testing.T) {
		// A quarantine on another file system (a tmpfs here) holds
		// copies, not the original files: undo must give the messages
		// back their mode and owner (a root run on a user's Maildir
		// must not leave root-owned 0600 files the user cannot read).
		w := handIncident(t)
		md := w.stores[0]
		filepath.Walk(md, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode().IsRegular() {
				os.Chmod(p, 0o640)
				os.Lchown(p, 65534, 65534)
			}
			return nil
		})
		w.record(t)
		owners := ownerSnapshot(t, md)
		q := filepath.Join(smallTmpfs(t, 4<<20, -1), "q")
		wantCode(t, w.e.run(t, nil, w.dedupeArgs("--apply", "--quarantine", q)...), 4)
		js := w.journals()
		wantCode(t, w.e.run(t, nil, "undo", js[0]), 0)
		w.restored(t, "after undo from another file system")
		if d := dedupetest.DiffSnapshots(owners, ownerSnapshot(t, md)); d != "" {
			t.Errorf("owners differ after undo:\n%s", d)
		}
	})
	t.Run("mbox rewrite", func(t *testing.T) {
		// The mbox lives on a file system without room for its new
		// version: the original stays byte for byte, no temporary file.
		w := genIncident(t, 41, 30)
		fs := smallTmpfs(t, 16<<20, -1)
		moveWorld(t, w, fs)
		var mbox string
		for _, s := range w.stores {
			if strings.HasSuffix(s, ".mbox") {
				mbox = s
			}
		}
		fill(t, fs, 4<<10)
		r := w.e.run(t, nil, w.dedupeArgs("--apply")...)
		failed(t, r, "no space left on device")
		w.noLoss(t, "after ENOSPC in the rewrite")
		if d := dedupetest.DiffSnapshots(map[string]string{mbox: w.snap[mbox]}, dedupetest.Snapshot(t, mbox)); d != "" {
			t.Errorf("the mbox changed: %s", d)
		}
		if left, _ := filepath.Glob(filepath.Join(fs, ".*popdedupe*")); len(left) > 0 {
			t.Errorf("temporary files left: %v", left)
		}
		// With room again a rerun finishes, and undo of both runs
		// restores the start.
		os.Remove(filepath.Join(fs, ".filler"))
		wantCode(t, w.e.run(t, nil, w.dedupeArgs("--apply")...), 0, 4)
		w.noLoss(t, "after the rerun")
		js := w.journals()
		for k := len(js) - 1; k >= 0; k-- {
			wantCode(t, w.e.run(t, nil, "undo", js[k]), 0)
		}
		w.restored(t, "after undoing both runs")
	})
	t.Run("state directory", func(t *testing.T) {
		// No room for the journal: nothing is done.
		w := handIncident(t)
		state := filepath.Join(smallTmpfs(t, 1<<20, 0), "state")
		args := append([]string{"dedupe", "--progress", "never", "--state-dir", state, "--apply"}, w.stores...)
		r := w.e.run(t, nil, args...)
		failed(t, r, "no space left on device")
		w.unchanged(t, "after ENOSPC in the state directory")
	})
	t.Run("repair fetch-missing", func(t *testing.T) {
		// repair runs the same session: the same exit 1.
		w := serverIncident(t, pop3test.Config{}, 12)
		fs := smallTmpfs(t, 1<<20, -1)
		target := filepath.Join(fs, "Recovered")
		fill(t, fs, 24<<10)
		r := w.e.run(t, nil, w.repairArgs(target)...)
		wantCode(t, r, 1)
		if !strings.Contains(r.stdout+r.stderr, "could not be saved") {
			t.Errorf("the error does not say messages could not be saved:\n%s", r)
		}
		w.noLoss(t, "after ENOSPC while fetching", target)
		w.checkFetchTarget(t, target, "after ENOSPC while fetching")
	})
	for _, kind := range []string{"maildir", "mbox"} {
		t.Run("fetch-missing "+kind, func(t *testing.T) {
			// Room for some fetched messages only: what could not be
			// saved is not deleted and is reported not fetched; the
			// target holds only whole messages.
			w := serverIncident(t, pop3test.Config{}, 12)
			fs := smallTmpfs(t, 1<<20, -1)
			target := filepath.Join(fs, "Recovered")
			if kind == "mbox" {
				target = filepath.Join(fs, "recovered.mbox")
			}
			fill(t, fs, 24<<10)
			r := w.e.run(t, nil, w.reconcileArgs(kind+":"+target)...)
			j := decodeRC(t, r)
			t.Logf("exit %d; error %q", r.code, j.Error)
			w.noLoss(t, "after ENOSPC while fetching", target)
			w.checkFetchTarget(t, target, "after ENOSPC while fetching")
			unsaved := 0
			for _, m := range j.Messages {
				if m.Verdict == "missing" {
					unsaved++
					if !strings.Contains(m.Note, "no space left") {
						t.Errorf("%s not fetched, note %q does not say why", m.UIDL, m.Note)
					}
				}
			}
			if unsaved == 0 {
				t.Fatalf("every message fit: the disk was not full enough\n%s", r)
			}
			w.serverMatchesReport(t, j)
			if r.code != 1 || !strings.Contains(j.Error, "could not be saved") {
				t.Errorf("exit %d, error %q although %d messages could not be saved:\n%s", r.code, j.Error, unsaved, r.stderr)
			}
		})
	}
}

// serverMatchesReport checks that the server holds exactly the messages
// the report does not call deleted.
func (w *world) serverMatchesReport(t *testing.T, j rcJSON) {
	t.Helper()
	on := map[string]bool{}
	for _, u := range w.uids() {
		on[u] = true
	}
	for _, m := range j.Messages {
		if deleted := m.Verdict == "deleted"; deleted == on[m.UIDL] {
			t.Errorf("%s: reported %s/%s, on the server %v", m.UIDL, m.Verdict, m.Dele, on[m.UIDL])
		}
	}
}

// ownerSnapshot maps every regular file under root to its uid:gid.
func ownerSnapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			st := fi.Sys().(*syscall.Stat_t)
			out[p] = strconv.Itoa(int(st.Uid)) + ":" + strconv.Itoa(int(st.Gid))
		}
		return nil
	})
	return out
}

// TestRunlockDiskFull: taking a run lock on a full disk either fails or
// writes a lock file that names its holder; it never reports success with
// an empty lock file (the holder would then be unknown to the next run).
func TestRunlockDiskFull(t *testing.T) {
	state := filepath.Join(smallTmpfs(t, 1<<20, -1), "state")
	if err := os.MkdirAll(filepath.Join(state, "locks"), 0o700); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(t.TempDir(), "Maildir")
	// Create the (empty) lock file while there is room, then fill up.
	l, err := runlock.Acquire(state, store, "first")
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	fill(t, filepath.Dir(state), 0)
	l, err = runlock.Acquire(state, store, "second")
	if err == nil {
		defer l.Release()
		b, _ := os.ReadFile(l.File)
		if !strings.Contains(string(b), "second") {
			t.Errorf("Acquire succeeded on a full disk but the lock file says %q: the write error was dropped", b)
		}
	} else if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Acquire on a full disk: %v, want ENOSPC", err)
	}
}

// TestDiskEIO: EIO in each place popdedupe writes, and EIO reading a
// message.
func TestDiskEIO(t *testing.T) {
	needRoot(t)
	t.Run("quarantine", func(t *testing.T) {
		w := handIncident(t)
		mnt := eioFS(t, func(string) {}, nil)
		q := filepath.Join(mnt, "q")
		r := w.e.run(t, nil, w.dedupeArgs("--apply", "--quarantine", q)...)
		failed(t, r, "input/output error")
		w.noLoss(t, "after EIO in the quarantine")
		js := w.journals()
		if len(js) != 1 || !strings.Contains(r.stderr, js[0]) {
			t.Fatalf("the error does not name the journal %v:\n%s", js, r)
		}
		wantCode(t, w.e.run(t, nil, "undo", js[0]), 0)
		w.restored(t, "after undo")
	})
	t.Run("mbox rewrite", func(t *testing.T) {
		w := handIncident(t)
		var mbox string
		mnt := eioFS(t, func(mnt string) {
			moveWorld(t, w, mnt)
			mbox = w.stores[1]
		}, nil)
		_ = mnt
		r := w.e.run(t, nil, w.dedupeArgs("--apply")...)
		failed(t, r, "input/output error")
		w.noLoss(t, "after EIO in the rewrite")
		if d := dedupetest.DiffSnapshots(map[string]string{mbox: w.snap[mbox]}, dedupetest.Snapshot(t, mbox)); d != "" {
			t.Errorf("the mbox changed: %s", d)
		}
	})
	t.Run("fetch-missing", func(t *testing.T) {
		w := serverIncident(t, pop3test.Config{}, 8)
		mnt := eioFS(t, func(string) {}, nil)
		target := filepath.Join(mnt, "Recovered")
		r := w.e.run(t, nil, w.reconcileArgs(target)...)
		j := decodeRC(t, r)
		w.noLoss(t, "after EIO while fetching", target)
		w.checkFetchTarget(t, target, "after EIO while fetching")
		for _, m := range j.Messages {
			if m.Verdict == "fetched" || (m.Local != nil && strings.HasPrefix(m.Local.Path, target)) {
				t.Errorf("%s reported saved to a disk that fails every write: %+v", m.UIDL, m)
			}
		}
		w.serverMatchesReport(t, j)
		if r.code != 1 || !strings.Contains(j.Error, "input/output error") {
			t.Errorf("exit %d, error %q although nothing could be saved:\n%s", r.code, j.Error, r.stderr)
		}
	})
	t.Run("unreadable message", func(t *testing.T) {
		// A message whose blocks fail to read is skipped with the
		// cause and never removed, even though its copy elsewhere reads.
		e := newEnv(t)
		w := &world{e: e}
		var bad string
		eioFS(t, func(mnt string) {
			md := filepath.Join(mnt, "Maildir")
			saveLocal(t, md, mailMsg(3), 1)
			saveLocal(t, md, mailMsg(5), 2)
			w.stores = []string{md}
		}, func(mnt string) {
			md := filepath.Join(mnt, "Maildir")
			saveLocal(t, md, mailMsg(3), 3) // a duplicate, on blocks past the cut
			bad = filepath.Join(md, "cur", "1741000003.M3P7.reliability:2,S")
		})
		if _, err := os.ReadFile(bad); !errors.Is(err, syscall.EIO) {
			t.Fatalf("reading the message on cut blocks: %v, want EIO", err)
		}
		r := w.e.run(t, nil, w.dedupeArgs("--apply", "--json")...)
		wantCode(t, r, 4)
		if !strings.Contains(r.stdout, "input/output error") || !strings.Contains(r.stdout, filepath.Base(bad)) {
			t.Errorf("the skipped message and its cause are not reported:\n%s", r)
		}
		if _, err := os.Lstat(bad); err != nil {
			t.Errorf("the unreadable copy was removed: %v", err)
		}
	})
}
