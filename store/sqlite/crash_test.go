package sqlite

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigilops/vigil/store"
	"github.com/vigilops/vigil/telemetry"
)

// crashDirEnv makes TestCrashChild run, as the child of TestCrashDurability.
const crashDirEnv = "VIGIL_STORE_CRASH_DIR"

// TestCrashDurability checks the store's invariant the hard way: a child
// process acknowledges each write on stdout only after AppendEvents
// returned nil, the parent SIGKILLs it mid-stream, and every acknowledged
// event must be in the database when it is reopened.
func TestCrashDurability(t *testing.T) {
	const wantAcks = 300
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A child that stops acknowledging must not hang the suite.
	watchdog := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	defer watchdog.Stop()

	var (
		acked  []string
		killed bool
	)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		id, ok := strings.CutPrefix(sc.Text(), "ack ")
		if !ok {
			continue
		}
		acked = append(acked, id)
		if len(acked) >= wantAcks && !killed {
			// Kill while the child keeps writing, then keep reading: lines
			// already in the pipe were acknowledged too.
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatalf("kill: %v", err)
			}
			killed = true
		}
	}
	waitErr := cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !killed || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended on its own after %d acks: %v\n%s", len(acked), waitErr, stderr.String())
	}

	db := openTest(t, dir, nil)
	events, err := db.Events(t.Context(), store.EventQuery{Limit: 1 << 30})
	if err != nil {
		t.Fatalf("events after crash: %v", err)
	}
	stored := make(map[string]bool, len(events))
	for _, e := range events {
		stored[e.ID] = true
	}
	missing := 0
	for _, id := range acked {
		if !stored[id] {
			missing++
			if missing <= 10 {
				t.Errorf("acknowledged event %s lost in the crash", id)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged events lost", missing, len(acked))
	}
	t.Logf("%d events acknowledged before SIGKILL, %d stored", len(acked), len(events))
}

// TestCrashChild is the child process of TestCrashDurability: it writes
// until killed, one event per call in one goroutine and batches of 20 in
// another (so the kill can land inside either kind of commit), and prints
// "ack <id>" for every event of a call that returned nil.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashDurability")
	}
	ctx := context.Background()
	db, err := Open(ctx, Options{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	// Bounded, in case the parent is gone without killing us.
	deadline := time.Now().Add(20 * time.Second)
	var outMu sync.Mutex
	ack := func(events []telemetry.Event) {
		var b strings.Builder
		for _, e := range events {
			b.WriteString("ack " + e.ID + "\n")
		}
		outMu.Lock()
		defer outMu.Unlock()
		if _, err := os.Stdout.WriteString(b.String()); err != nil {
			os.Exit(3)
		}
	}
	write := func(prefix string, batch int) {
		for i := 0; time.Now().Before(deadline); i++ {
			events := make([]telemetry.Event, batch)
			for k := range events {
				events[k] = telemetry.Event{
					ID:      fmt.Sprintf("%s-%07d-%02d", prefix, i, k),
					Kind:    telemetry.EventDeploy,
					Time:    t0.Add(time.Duration(i) * time.Second),
					Service: prefix,
				}
			}
			if err := db.AppendEvents(ctx, events); err != nil {
				fmt.Fprintln(os.Stderr, "append:", err)
				os.Exit(2)
			}
			ack(events)
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { write("one", 1) })
	wg.Go(func() { write("batch", 20) })
	wg.Wait()
	os.Exit(0)
}
