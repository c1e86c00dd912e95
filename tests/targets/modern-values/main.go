// values: a small HTTP service whose handler passes known values through the kinds of functions a
// modern Go build produces, so tests can check what kdbg prints for each on an optimized binary.
// GET /values?n=N&name=S calls, in this order (GET / only answers "ok"):
//
//	describe(order)                  interface argument (fmt.Stringer holding *Order)
//	process(order, note, n)          *Order (fields through a pointer), string, int, slice, map
//	sum[int](xs), sum[float64](fs)   a generic function, two instantiations
//	counter.Add(n)                   a method with a pointer receiver
//	the closure in handleValues      captures `name`, takes n (main.handleValues.func1)
//	double(n) at two call sites      inlined by the compiler
//
// Every function but double is marked //go:noinline so each has its own frame to trace.
package main

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
)

type Order struct {
	ID       int
	Customer string
	Items    []string
	Prices   map[string]int
}

func (o *Order) String() string { return fmt.Sprintf("order %d for %s", o.ID, o.Customer) }

type Counter struct {
	Total int
	Name  string
}

//go:noinline
func (c *Counter) Add(n int) int {
	c.Total += n
	return c.Total
}

//go:noinline
func describe(s fmt.Stringer) string { return s.String() }

//go:noinline
func process(o *Order, note string, n int) int {
	total := 0
	for _, it := range o.Items {
		total += o.Prices[it]
	}
	return total*n + len(note)
}

type Number interface{ ~int | ~float64 }

//go:noinline
func sum[T Number](xs []T) T {
	var s T
	for _, x := range xs {
		s += x
	}
	return s
}

// apply calls f through a func value, so the closure keeps its own frame (handleValues.func1).
//
//go:noinline
func apply(f func(int) string, k int) string { return f(k) }

// double is small enough to be inlined at both of its call sites.
func double(x int) int { return x * 2 }

var counter = &Counter{Name: "requests"}

func handleValues(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	name := r.URL.Query().Get("name")
	order := &Order{
		ID:       n,
		Customer: name,
		Items:    []string{"apple", "pear", "fig"},
		Prices:   map[string]int{"apple": 3, "pear": 5, "fig": 7},
	}
	d := describe(order)
	p := process(order, "note-"+name, n)
	si := sum([]int{n, 2, 3})
	sf := sum([]float64{1.5, float64(n)})
	c := counter.Add(n)
	greet := func(k int) string {
		return fmt.Sprintf("%s#%d", name, k)
	}
	g := apply(greet, n)
	a := double(n)
	b := double(n + 1)
	fmt.Fprintf(w, "%s %d %d %g %d %s %d %d\n", d, p, si, sf, c, g, a, b)
}

func main() {
	addr := os.Getenv("HELLO_ADDR") // the tests' convention (tests/support/go_target.h)
	if addr == "" {
		addr = ":8081"
	}
	http.HandleFunc("/values", handleValues)
	http.HandleFunc("/bump", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, bump(&tagged{Counter: counter, Tag: r.URL.Query().Get("tag")}))
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/evens", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		fmt.Fprintln(w, countEvens(n))
	})
	if err := http.ListenAndServe(addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// tagged embeds *Counter: its fields (t.Total) and its method Add (t.Add) are promoted.
type tagged struct {
	*Counter
	Tag string
}

//go:noinline
func bump(t *tagged) int { return t.Add(1) + len(t.Tag) }

// evens yields the even numbers below n: an iterator for a range-over-func loop, whose body Go
// compiles into a closure of its own (main.countEvens-range1; kept out of line: evens is not
// inlined, so its closure calls the body through a func value).
//
//go:noinline
func evens(n int) func(func(int) bool) {
	return func(yield func(int) bool) {
		for i := 0; i < n; i += 2 {
			if !yield(i) {
				return
			}
		}
	}
}

//go:noinline
func countEvens(n int) int {
	c := 0
	for e := range evens(n) {
		c += e
	}
	return c
}
