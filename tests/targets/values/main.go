// The eBPF engine's target: functions whose parameters cover every kind of value the engine reads
// (strings, integers, booleans, pointers, slices, field chains through pointers and interfaces),
// and a deep recursion that grows the goroutine's stack. Every request to /order calls
// main.handleOrder, main.stackArgs, main.validate and main.summarize once, and main.clampQty twice
// (once inlined, once out of line) and main.half and main.scale once (inlined); /recurse?n=N calls
// main.recurse N+1 times (&big=1: main.bigRecurse). Its Describer: &label=L, &ref=1, &memo=M.
package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
)

type Customer struct {
	Name  string
	Tier  int8
	Email string
}

type Order struct {
	ID       int64
	Customer *Customer
	Items    []string
	Paid     bool
	Note     string
	Weight   uint16
}

// Describer is satisfied by *Order, label, ref and *memo (below): four dynamic types.
type Describer interface{ Describe() string }

type label struct {
	Text string
	N    int
}

func (o *Order) Describe() string { return o.Note }
func (l label) Describe() string  { return l.Text }

var sink int

//go:noinline
func handleOrder(w io.Writer, o *Order, d Describer, tag string, qty int, urgent bool) int {
	fmt.Fprintf(w, "order %d for %s: %d x %d items (%s)\n", o.ID, o.Customer.Name, qty, len(o.Items), tag)
	if urgent {
		sink++
	}
	return qty * len(o.Items)
}

// recurse keeps a large frame so that deep recursion grows the goroutine's stack many times.
//
//go:noinline
func recurse(n int, pad [64]int64) int {
	if n <= 0 {
		return int(pad[0])
	}
	pad[n%64]++
	return recurse(n-1, pad) + 1
}

// bigRecurse has a frame above 4 KiB (it passes 4800 bytes of arguments on): Go's stack check for
// such a frame guards against underflow first (MOVQ SP, R12; SUBQ $N, R12; JCS; CMPQ R12,
// 16(R14); JBE).
//
//go:noinline
func bigRecurse(n int, pad [600]int64) int {
	if n <= 0 {
		return int(pad[0])
	}
	pad[n%600]++
	return bigRecurse(n-1, pad) + 1
}

// summarize has results of each kind the eBPF engine reads, and two returns (its RETs are the
// return probes' sites).
//
//go:noinline
func summarize(tag string, qty int) (string, int, bool) {
	if qty < 0 {
		return "negative", -qty, false
	}
	return tag + "!", qty * 2, qty > 1
}

var errNegative = errors.New("negative quantity")

// validate returns an interface (error): nil, or a pointer dynamic type. Its arguments include
// a slice, an array and an empty interface (nil, *Order or int: /order?extra=order|qty).
//
//go:noinline
func validate(qty int, items []string, digest [4]byte, extra any) error {
	if qty < 0 || len(items) > 100 || digest[0] == 1 || extra == 1 {
		return errNegative
	}
	return nil
}

// receipt holds an array, so it is never given registers: always passed on the stack.
type receipt struct {
	ID   int64
	Sums [2]int
}

// stackArgs gets id, qty and r on the stack (ABIInternal has nine integer registers). Go 1.26's
// DWARF locates them for the whole function: id and qty by location lists ("DW_OP_call_frame_cfa",
// "DW_OP_fbreg: 8"), r by one expression (DW_FORM_block1 "DW_OP_fbreg: 16"). (A string there is
// misplaced by 8 bytes in Go 1.26's DWARF: Delve and kdbg both read it wrong, so it is left out.)
//
//go:noinline
func stackArgs(a, b, c, d, e, f, g, h, i int, id int64, qty int, r receipt) int {
	return a + b + c + d + e + f + g + h + i + int(id) + qty + int(r.ID) + r.Sums[1]
}

// clampQty is small enough to inline: serveOrder's direct call is inlined, and its call through
// clampFn runs the out-of-line body. A tracepoint on it hits at both, as Delve's does.
func clampQty(qty int, note string) int {
	if qty > 100 {
		return 100
	}
	return qty + len(note)
}

var clampFn = clampQty

// half is only ever inlined: the binary has no out-of-line body for it.
func half(n int64) int64 { return n / 2 }

// scale is only ever inlined, and its one call passes a constant `by`: Go's DWARF for that call
// has no DIE for `by` (folded away), which Delve then "could not find".
func scale(n, by int64) int64 {
	if n > 1000 {
		return n * by
	}
	return n + by
}

func serveOrder(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id, _ := strconv.ParseInt(q.Get("id"), 10, 64)
	qty, _ := strconv.Atoi(q.Get("qty"))
	name := q.Get("name")
	var c *Customer
	if name != "" {
		c = &Customer{Name: name, Tier: int8(len(name) % 5), Email: name + "@example.com"}
	} else {
		c = &Customer{}
	}
	o := &Order{ID: id, Customer: c, Items: strings.Split(q.Get("items"), ","), Paid: q.Get("paid") == "1",
		Note: q.Get("note"), Weight: uint16(id * 3)}
	var d Describer = o
	if q.Get("label") != "" {
		d = label{Text: q.Get("label"), N: int(id)}
	}
	if q.Get("ref") != "" {
		d = ref{Order: o}
	}
	if q.Get("memo") != "" {
		d = asDescriber(&memo{Memo: q.Get("memo")})
	}
	handleOrder(w, o, d, q.Get("tag"), qty, q.Get("urgent") == "1")
	sink += stackArgs(1, 2, 3, 4, 5, 6, 7, 8, 9, id, qty, receipt{ID: id * 10, Sums: [2]int{qty, 1}})
	var extra any
	switch q.Get("extra") {
	case "order":
		extra = o
	case "qty":
		extra = qty
	case "nilorder":
		extra = (*Order)(nil)
	case "sticky":
		extra = stickyNote{Note: o.Note, At: int(id)}
	}
	if err := validate(qty, o.Items, [4]byte{byte(len(name))}, extra); err != nil {
		sink++
	}
	if s, n, ok := summarize(q.Get("tag"), qty); ok {
		sink += n + len(s)
	}
	sink += clampQty(qty, o.Note) + clampFn(qty+1, "fn") + int(half(id)) + int(scale(id, 3))
	sink += ship(&envelope{Order: o, meta: meta{Source: q.Get("source"), Mass: weight(q.Get("w")), Scale: float32(weight(q.Get("w")))}, Seq: int(id) + 1})
	sink += tallyTags(q["tag"])
	sink += queueDepth(q.Get("q"))
}

func serveRecurse(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	if r.URL.Query().Get("big") == "1" {
		fmt.Fprintf(w, "%d\n", bigRecurse(n, [600]int64{}))
		return
	}
	fmt.Fprintf(w, "%d\n", recurse(n, [64]int64{}))
}

func main() {
	addr := os.Getenv("HELLO_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8090"
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/order", serveOrder)
	http.HandleFunc("/recurse", serveRecurse)
	http.HandleFunc("/panics", servePanics)
	http.HandleFunc("/scopes", serveScopes)
	http.ListenAndServe(addr, nil)
}

// ref is a struct of one pointer field: Go stores it in an interface's data word itself, not
// behind a pointer (a "direct interface" type), so d.Order reads that word.
type ref struct{ Order *Order }

func (r ref) Describe() string { return r.Order.Note }

// memo implements Describer, but only a type assertion at run time makes it one: the binary has
// no go:itab.*main.memo,main.Describer symbol, and the runtime makes that itab (getitab).
type memo struct{ Memo string }

func (m *memo) Describe() string { return m.Memo }

//go:noinline
func asDescriber(x any) Describer {
	d, _ := x.(Describer)
	return d
}

// mayPanic panics when boom is set: that call never returns (its caller recovers), and the next
// call, from the same frame, runs at the same depth in the goroutine's stack.
//
//go:noinline
func mayPanic(n int, boom bool) int {
	if boom {
		panic(n)
	}
	return n * 2
}

//go:noinline
func callRecovering(n int, boom bool) (r int) {
	defer func() {
		if recover() != nil {
			r = -1
		}
	}()
	return mayPanic(n, boom)
}

// servePanics calls mayPanic(1), ..., mayPanic(n) from one frame; with boom=1 the first panics.
func servePanics(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	boom := r.URL.Query().Get("boom") == "1"
	sum := 0
	for i := 1; i <= n; i++ {
		sum += callRecovering(i, boom && i == 1)
	}
	fmt.Fprintf(w, "%d\n", sum)
}

// stickyNote has a Note field too: an any holding it or a *Order is read by either type's layout.
type stickyNote struct {
	Note string
	At   int
}

// envelope's fields are promoted from an embedded pointer (*Order: e.ID, e.Customer.Name) and an
// embedded struct (meta: e.Source), as Go selects them.
type envelope struct {
	*Order
	meta
	Seq int
}

type meta struct {
	Source string
	Mass   float64 // not Weight: *Order has one, and e.Weight would be ambiguous
	Scale  float32
}

// weight is the request's w parsed as Go parses it ("NaN", "-Inf", "1e21", "-0"); 0 if absent.
func weight(w string) float64 {
	f, _ := strconv.ParseFloat(w, 64)
	return f
}

//go:noinline
func ship(e *envelope) int { return int(e.ID) + len(e.Source) + e.Seq }

// tallyTags counts the request's tags in a map: nil without any, a Go 1.24+ swiss map with a
// directory of tables past 8 entries.
func tallyTags(tags []string) int {
	var counts map[string]int
	for _, t := range tags {
		if counts == nil {
			counts = map[string]int{}
		}
		counts[t]++
	}
	return tally(counts)
}

//go:noinline
func tally(counts map[string]int) int { return len(counts) }

// queueDepth fills a channel of 8 with the request's q items; without q the channel is nil.
func queueDepth(q string) int {
	var ch chan int
	if n, err := strconv.Atoi(q); err == nil {
		ch = make(chan int, 8)
		for i := 0; i < n && i < 8; i++ {
			ch <- i
		}
	}
	return depth(ch, make([]int, 2, 5))
}

//go:noinline
func depth(ch chan int, spare []int) int { return len(ch) + cap(ch) + cap(spare) }

// serveScopes has a local Go moves to the heap (its address escapes: the DWARF names it "&total",
// a pointer), and a name declared again in an inner block: there the inner `label` shadows the
// outer one from the line after its declaration (Delve's scope rules; tests trace each line).
func serveScopes(w http.ResponseWriter, r *http.Request) {
	label := r.URL.Query().Get("label")
	total := len(label)
	keep(&total)
	if label != "" {
		label := strings.ToUpper(label)
		total += len(label)
		fmt.Fprintf(w, "%s %d\n", label, total)
	}
	fmt.Fprintf(w, "%s %d\n", label, total)
	{
		r := label + "!" // shadows the parameter r in this block (the hit's args keep the parameter)
		fmt.Fprintln(w, r)
	}
}

var kept *int

//go:noinline
func keep(p *int) { kept = p }

func init() { http.HandleFunc("/nested", serveNested) }

// serveNested calls stamp from code the compiler inlined (wrapStamp): a stack at stamp names
// wrapStamp, at its call of stamp, then serveNested at its call of wrapStamp, both in serveNested's
// frame.
func serveNested(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintln(w, wrapStamp(r.URL.Query().Get("v")))
}

func wrapStamp(v string) string { return "<" + stamp(v) + ">" }

//go:noinline
func stamp(v string) string { return v + "!" }

// Package variables no request changes (unlike sink): both engines print the same values at any
// hit of any run.
var release = "v1.2.3"
var generation = 7

func init() {
	http.HandleFunc("/release", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, release, generation)
	})
}

func init() { http.HandleFunc("/graph", serveGraph) }

// node and point are printed whole (`print n`): Delve follows pointers, loads the fields of a
// struct and of the structs in it (MaxVariableRecurse 1: two levels), and shows a pointer to a
// pointer past that by its address.
type node struct {
	Name  string
	Next  *node
	At    point
	Count *int
	Owner **Customer
	Ratio float64
	Seen  bool
	Mode  mode
}

// mode's constants are single bits: Delve prints a mode by their names ("modeRead|modeWrite (3)").
type mode uint8

const (
	modeRead mode = 1 << iota
	modeWrite
	modeExec
)

type point struct {
	X, Y int32
}

// limits has more fields than Delve lists of a struct argument (3).
type limits struct {
	Min, Max, Step int16
	Name           string
	On             bool
}

//go:noinline
func visit(n *node, p point, count *int, none *Customer, lim limits, m mode) int {
	if n.Next != nil && none == nil && lim.On && m != 0 {
		return int(p.X) + *count + int(lim.Step)
	}
	return int(p.Y)
}

// digest takes byte slices and small arrays, whose elements Delve prints, and an interface
// holding a nil pointer.
//
//go:noinline
func digest(data []byte, sum [4]byte, flags []bool, pair [2]int16, modes [3]mode, d Describer) int {
	n := len(data) + int(sum[0]) + int(pair[1]) + int(modes[2])
	if d != nil {
		n++
	}
	for _, f := range flags {
		if f {
			n++
		}
	}
	return n
}

// serveGraph links root -> leaf (-> "deeper" with deep=1), each with a point, a counter and (the
// leaf) an owner behind two pointers.
func serveGraph(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	k, _ := strconv.Atoi(q.Get("k"))
	owner := &Customer{Name: q.Get("owner"), Tier: 1, Email: "o@example.com"}
	leaf := &node{Name: "leaf", At: point{X: 3, Y: 4}, Count: &k, Owner: &owner, Ratio: 0.5,
		Mode: modeExec}
	root := &node{Name: q.Get("name"), Next: leaf, At: point{X: int32(k), Y: -1}, Count: &k,
		Ratio: 1.25, Seen: k > 1, Mode: mode(k) | modeRead}
	if q.Get("deep") == "1" {
		leaf.Next = &node{Name: "deeper"}
	}
	blob := []byte(q.Get("blob"))
	sink += digest(blob, [4]byte{byte(len(blob)), 1, 2, 255}, []bool{k > 0, false, true}[:2],
		[2]int16{-7, int16(k)}, [3]mode{modeRead, modeRead | modeExec, 8}, (*Order)(nil))
	fmt.Fprintf(w, "%d\n", visit(root, root.At, &k, nil,
		limits{Min: -1, Max: int16(k * 100), Step: 2, Name: q.Get("name"), On: k > 0}, mode(k*8)|modeRead))
}

// fault is an error of a struct type: an interface holds a pointer to a copy of it.
type fault struct {
	Code int
	Op   string
}

func (f fault) Error() string { return f.Op }

// badInput is an error that wraps another (an interface inside the dynamic value).
type badInput struct {
	Field string
	Err   error
}

// errCode is an error of a named integer type with constants (Delve names its value by them).
type errCode uint16

const (
	codeTimeout errCode = 1
	codeRefused errCode = 2
)

func (c errCode) Error() string { return "code " + strconv.Itoa(int(c)) }

func (b *badInput) Error() string {
	if b == nil {
		return "no input"
	}
	return b.Field + ": " + b.Err.Error()
}

//go:noinline
func report(err error, d Describer) int {
	if err == nil {
		return 0
	}
	return len(err.Error())
}

// serveFail passes main.report an error of the kind ?kind= names: plain (errors.New), wrapped
// (fmt.Errorf with %w), fault (a struct value), input (*badInput wrapping a fault), nilptr (a nil
// *badInput), code (codeRefused); none: a nil error. Its Describer: a label ?label=.
func serveFail(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var err error
	switch q.Get("kind") {
	case "plain":
		err = errors.New("plain failure")
	case "wrapped":
		err = fmt.Errorf("while loading: %w", errNegative)
	case "fault":
		err = fault{Code: 7, Op: "dial"}
	case "input":
		err = &badInput{Field: "qty", Err: fault{Code: -1, Op: "parse"}}
	case "nilptr":
		var b *badInput
		err = b
	case "code":
		err = codeRefused
	}
	sink += inspect(outer{Name: "o", In: inner{Err: err, N: 2}})
	fmt.Fprintln(w, report(err, label{Text: q.Get("label"), N: 3}))
}

// outer holds an error two struct levels down: Delve loads that interface's dynamic value by
// address only (past MaxVariableRecurse).
type outer struct {
	Name string
	In   inner
}

type inner struct {
	Err error
	N   int
}

//go:noinline
func inspect(o outer) int { return o.In.N }

func init() { http.HandleFunc("/fail", serveFail) }

// recurseErr is main.recurse with an error beside: /recurse-err?n=N calls it N+1 times (the
// benchmark's interface printed whole, kdbg-ebpf-bench).
//
//go:noinline
func recurseErr(n int, err error) int {
	if n <= 0 {
		return 0
	}
	return recurseErr(n-1, err) + 1
}

func init() {
	http.HandleFunc("/recurse-err", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		fmt.Fprintf(w, "%d\n", recurseErr(n, errNegative))
	})
}

// failure returns the error /failure?kind= names: fault (a struct value), plain (errors.New),
// code (codeRefused); else nil. Its results at each RET, through an interface.
//
//go:noinline
func failure(kind string) error {
	switch kind {
	case "fault":
		return fault{Code: 7, Op: "dial"}
	case "plain":
		return errors.New("plain failure")
	case "code":
		return codeRefused
	}
	return nil
}

func init() {
	http.HandleFunc("/failure", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, failure(r.URL.Query().Get("kind")) != nil)
	})
}


// line is a basket's element of a struct type.
type line struct {
	SKU string
	Qty int
}

// basket, crate and firstErr take slices whose elements Delve prints one by one: strings,
// numbers of each size, pointers (nil among them), structs and interfaces (nil, a pointer, a
// struct value). At most nine words of arguments each: all in registers (Go 1.26's DWARF puts
// arguments passed on the stack 8 bytes past where the code reads them, and Delve reads them
// there: docs/ebpf-engine.md, Not done).
//
//go:noinline
func basket(names []string, qtys []int, weights []float64) int {
	return len(names) + len(qtys) + len(weights)
}

//go:noinline
func crate(small []int16, owners []*Customer, lines []line) int {
	return len(small) + len(owners) + len(lines)
}

//go:noinline
func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// serveBasket fills their slices: /basket?names=a,b&n=N (N elements in each other slice; no
// names: a nil slice).
func serveBasket(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, _ := strconv.Atoi(q.Get("n"))
	var names []string
	if s := q.Get("names"); s != "" {
		names = strings.Split(s, ",")
	}
	qtys := make([]int, n, n+2)
	weights := make([]float64, n)
	small := make([]int16, n)
	var owners []*Customer
	var lines []line
	var errs []error
	for i := 0; i < n; i++ {
		qtys[i] = i*10 - 5
		weights[i] = float64(i) + 0.25
		small[i] = int16(-i)
		if i%2 == 0 {
			owners = append(owners, &Customer{Name: fmt.Sprint("c", i), Tier: int8(i), Email: "e"})
		} else {
			owners = append(owners, nil)
		}
		lines = append(lines, line{SKU: fmt.Sprint("sku-", i), Qty: i})
		switch i % 3 {
		case 0:
			errs = append(errs, nil)
		case 1:
			errs = append(errs, errNegative)
		default:
			errs = append(errs, fault{Code: i, Op: "op"})
		}
	}
	fmt.Fprintln(w, basket(names, qtys, weights)+crate(small, owners, lines), firstErr(errs))
}

func init() { http.HandleFunc("/basket", serveBasket) }

// recurseNames is main.recurse with a slice of strings beside: /recurse-names?n=N&names=a,b calls
// it N+1 times (the benchmark's slice printed whole, kdbg-ebpf-bench).
//
//go:noinline
func recurseNames(n int, names []string) int {
	if n <= 0 {
		return 0
	}
	return recurseNames(n-1, names) + 1
}

func init() {
	http.HandleFunc("/recurse-names", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		fmt.Fprintf(w, "%d\n", recurseNames(n, strings.Split(r.URL.Query().Get("names"), ",")))
	})
}

// manifest holds a slice of structs: printed whole, its elements are at recursion level 2, where
// Delve loads no struct's fields.
type manifest struct {
	ID    int
	Lines []line
}

//go:noinline
func pack(m *manifest) int { return m.ID + len(m.Lines) }

func init() {
	http.HandleFunc("/pack", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		m := &manifest{ID: n}
		for i := 0; i < n; i++ {
			m.Lines = append(m.Lines, line{SKU: fmt.Sprint("p-", i), Qty: i})
		}
		fmt.Fprintln(w, pack(m))
	})
}

// stock takes maps as Delve prints them, entry by entry: strings to numbers, numbers to structs,
// strings to interfaces (nil, a pointer, a struct value) and to slices of strings. /stock?n=N
// fills counts with N entries (past 8: a table; past 896: a directory of several tables), the
// others with min(N, 5); n=-1: nil maps, n=0: empty ones.
//
//go:noinline
func stock(counts map[string]int, byID map[int]line, errs map[string]error, tags map[string][]string) int {
	return len(counts) + len(byID) + len(errs) + len(tags)
}

func init() {
	http.HandleFunc("/stock", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		var counts map[string]int
		var byID map[int]line
		var errs map[string]error
		var tags map[string][]string
		if n >= 0 {
			counts = map[string]int{}
			byID = map[int]line{}
			errs = map[string]error{}
			tags = map[string][]string{}
		}
		for i := 0; i < n; i++ {
			counts[fmt.Sprint("k", i)] = i * 3
			if i >= 5 {
				continue
			}
			byID[i*7] = line{SKU: fmt.Sprint("s", i), Qty: -i}
			switch i % 3 {
			case 0:
				errs[fmt.Sprint("e", i)] = nil
			case 1:
				errs[fmt.Sprint("e", i)] = errNegative
			default:
				errs[fmt.Sprint("e", i)] = fault{Code: i, Op: "op"}
			}
			tags[fmt.Sprint("t", i)] = strings.Split(strings.Repeat("x,", i)+"y", ",")
		}
		fmt.Fprintln(w, stock(counts, byID, errs, tags))
	})
}

// Maps that live as long as the process (their entries' order, a hash's, is the same at every
// call): 5 entries (one group), 20 (a table) and 1000 (a directory of several tables).
var shelves = map[string]map[string]int{"small": {}, "mid": {}, "big": {}}

func init() {
	for name, n := range map[string]int{"small": 5, "mid": 20, "big": 1000} {
		for i := 0; i < n; i++ {
			shelves[name][fmt.Sprint("k", i)] = i * 3
		}
	}
}

// browse takes one of them: /browse?which=small|mid|big.
//
//go:noinline
func browse(m map[string]int) int { return len(m) }

func init() {
	http.HandleFunc("/browse", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, browse(shelves[r.URL.Query().Get("which")]))
	})
}

// recurseTags is main.recurse with a map of 8 entries beside: /recurse-tags?n=N calls it N+1
// times (the benchmark's map printed whole, kdbg-ebpf-bench).
//
//go:noinline
func recurseTags(n int, tags map[string]int) int {
	if n <= 0 {
		return 0
	}
	return recurseTags(n-1, tags) + 1
}

func init() {
	http.HandleFunc("/recurse-tags", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		tags := map[string]int{}
		for i := 0; i < 8; i++ {
			tags[fmt.Sprint("tag", i)] = i
		}
		fmt.Fprintf(w, "%d\n", recurseTags(n, tags))
	})
}

// nested is a map of maps (each inner map's entries in the order they were put in: one group).
var nested = map[string]map[string]int{"a": {"x": 1}, "b": {"y": 2, "z": 3}, "c": nil}

// color is a named string an empty interface holds (/note).
type color string

// box holds an empty interface in memory (Delve reads one in registers through its register
// pieces, and there often fails: "error loading module data").
type box struct {
	V     any
	Count int
}

// note takes an empty interface, and a box holding it: /note?kind=K passes a string (and a long
// one), an int, an int8, a uint16, a float64, a float32, a bool, a color, a mode, a *Order, a
// stickyNote or nil; the values made from the request, so that each is boxed at run time.
//
//go:noinline
func note(v any, b *box) int {
	if v == nil {
		return b.Count
	}
	return 1
}

func init() {
	http.HandleFunc("/note", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		n := len(r.URL.Path) // 5
		var v any
		switch q.Get("kind") {
		case "string":
			v = "hello, " + q.Get("who")
		case "long":
			v = strings.Repeat("ab", 30+n)
		case "int":
			v = n * -7
		case "int8":
			v = int8(-n)
		case "uint16":
			v = uint16(60000 + n)
		case "float64":
			v = float64(n) / 4
		case "float32":
			v = float32(n) / 8
		case "bool":
			v = n > 3
		case "color":
			v = color("blue-" + q.Get("who"))
		case "mode":
			v = mode(n - 2)
		case "order":
			v = &Order{ID: int64(n), Note: "boxed"}
		case "sticky":
			v = stickyNote{Note: "stuck", At: n}
		}
		fmt.Fprintln(w, note(v, &box{V: v, Count: n}))
	})
}

// pick returns an empty interface: /pick?kind=K a string, an int, a *Order or nil (its result
// read at each RET by the eBPF engine).
//
//go:noinline
func pick(kind string, n int) any {
	switch kind {
	case "string":
		return "picked-" + strconv.Itoa(n)
	case "int":
		return n * 3
	case "order":
		return &Order{ID: int64(n)}
	}
	return nil
}

func init() {
	http.HandleFunc("/pick", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, pick(r.URL.Query().Get("kind"), len(r.URL.Path)) != nil)
	})
}

// logf takes its arguments as a logger does: /logf?n=N passes N of them (a string, an int, a
// *Order, nil, a bool, a stickyNote, in turn).
//
//go:noinline
func logf(format string, args ...any) int { return len(format) + len(args) }

func init() {
	http.HandleFunc("/logf", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		var args []any
		for i := 0; i < n; i++ {
			switch i % 6 {
			case 0:
				args = append(args, fmt.Sprint("arg", i))
			case 1:
				args = append(args, i*100)
			case 2:
				args = append(args, &Order{ID: int64(i)})
			case 3:
				args = append(args, nil)
			case 4:
				args = append(args, i%2 == 0)
			default:
				args = append(args, stickyNote{Note: "s", At: i})
			}
		}
		fmt.Fprintln(w, logf("%v", args...))
	})
}
