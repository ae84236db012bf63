package corpusgen

// job is one generated server message on its way to a writer.
type job struct {
	p   plan
	msg []byte     // server copy (see startAhead)
	cps []copyPlan // plans of its local copies
	tag int        // the writer's own mark (mbox: -1 first downloads, else a burst)
}

// ahead generates messages in a second goroutine while the writer writes
// the ones before: generation and file system calls overlap. Jobs arrive in
// the order list yields them and go back to the pool with done.
type ahead struct {
	jobs chan *job
	free chan *job
	stop chan struct{}
}

const aheadJobs = 32

// startAhead starts generating the messages that list yields as (index,
// tag) pairs; list runs in the generating goroutine. Messages without
// local copies get their bytes only when all is set.
func startAhead(g *Generator, all bool, list func(yield func(i, tag int) bool)) *ahead {
	a := &ahead{
		jobs: make(chan *job, aheadJobs/2),
		free: make(chan *job, aheadJobs),
		stop: make(chan struct{}),
	}
	for range aheadJobs {
		a.free <- new(job)
	}
	go func() {
		defer close(a.jobs)
		w := &worker{g: g}
		list(func(i, tag int) bool {
			var j *job
			select {
			case j = <-a.free:
			case <-a.stop:
				return false
			}
			j.p = g.plan(i)
			j.tag = tag
			j.msg, j.cps = j.msg[:0], j.cps[:0]
			if j.p.saved || all {
				j.msg = w.message(j.msg, &j.p)
			}
			if j.p.saved {
				j.cps = g.copyPlans(j.cps, &j.p)
			}
			select {
			case a.jobs <- j:
				return true
			case <-a.stop:
				return false
			}
		})
	}()
	return a
}

// done returns j to the pool.
func (a *ahead) done(j *job) { a.free <- j }

// close stops the generator and waits until it has stopped.
func (a *ahead) close() {
	close(a.stop)
	for range a.jobs {
	}
}
