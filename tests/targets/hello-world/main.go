package main

import (
  "net/http"
  "fmt"
)

func handleSlash(w http.ResponseWriter, r *http.Request) {
  fmt.Fprintf(w, "Hello %s!\n", r.Host)
}

func main() {
  http.HandleFunc("/", handleSlash)
  http.ListenAndServe(listenAddr(), nil)
}
