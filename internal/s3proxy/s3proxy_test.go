package s3proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// The proxy delays, counts by kind, and injects the faults it is told to,
// at about the rates asked.
func TestProxyDelaysCountsAndFaults(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer backend.Close()
	p, err := Start(Options{Target: backend.URL, Delay: 20 * time.Millisecond, SlowDownRate: 0.1, ResetRate: 0.1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// fresh connections: the client retries no reset request by itself
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	for i := range 400 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, p.URL+"/bucket/key", nil)
			if i%4 == 0 {
				req, _ = http.NewRequest(http.MethodGet, p.URL+"/bucket?list-type=2&prefix=web/", nil)
			} else if i%4 == 1 {
				req.Method = http.MethodHead
			}
			resp, err := client.Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				codes["error"]++
				return
			}
			resp.Body.Close()
			codes[resp.Status]++
		})
	}
	wg.Wait()
	if took := time.Since(start); took < 20*time.Millisecond {
		t.Errorf("400 requests took %v: no delay", took)
	}
	s := p.Stats()
	t.Logf("%s; replies %v", s, codes)
	if s.Total != 400 || s.Requests["LIST"] != 100 || s.Requests["HEAD"] != 100 || s.Requests["GET"] != 200 {
		t.Errorf("counts %s, want 400: LIST 100, HEAD 100, GET 200", s)
	}
	if s.SlowDowns < 20 || s.SlowDowns > 60 || s.Resets < 20 || s.Resets > 60 {
		t.Errorf("%d SlowDown and %d resets of 400 at 10%% each", s.SlowDowns, s.Resets)
	}
	if codes["503 Service Unavailable"] != int(s.SlowDowns) || codes["error"] != int(s.Resets) {
		t.Errorf("replies %v, want %d 503 and %d failed connections", codes, s.SlowDowns, s.Resets)
	}
	if s.MaxInFlight < 2 {
		t.Errorf("at most %d in flight of 400 sent at once", s.MaxInFlight)
	}
}
