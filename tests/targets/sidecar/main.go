// sidecar: the second container of the sandbox's two-container pod. It has a different handler
// (handleStatus) than hello-world, so tests can tell which container `kdbg -c` picked.
package main

import (
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
)

var served int64

func handleStatus(w http.ResponseWriter, r *http.Request) {
	n := atomic.AddInt64(&served, 1)
	fmt.Fprintf(w, "sidecar ok %d\n", n)
}

func main() {
	addr := os.Getenv("SIDECAR_ADDR")
	if addr == "" {
		addr = ":9090"
	}
	http.HandleFunc("/", handleStatus)
	if err := http.ListenAndServe(addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
