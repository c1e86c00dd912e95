package main

import "os"

// listenAddr lets tests and the sandbox choose the address: $HELLO_ADDR, else ":8080".
// Kept out of main.go so that main.go's lines stay exactly as the trace examples expect.
func listenAddr() string {
  if a := os.Getenv("HELLO_ADDR"); a != "" {
    return a
  }
  return ":8080"
}
