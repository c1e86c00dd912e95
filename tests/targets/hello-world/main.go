package main

import (
  "net/http"
  "fmt"
)

// handleSlash answers every request. Its first line is line 10, the examples' tracepoint
// (examples/trace.dlv): function entry, where optimized code still holds every argument.
func handleSlash(w http.ResponseWriter, r *http.Request) {
  fmt.Fprintf(w, "Hello %s!\n", r.Host)
}

func main() {
  http.HandleFunc("/", handleSlash)
  http.ListenAndServe(listenAddr(), nil)
}
