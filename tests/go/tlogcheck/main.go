// Command tlogcheck verifies an ARKA transparency log with code nobody at ARKA wrote:
// golang.org/x/mod/sumdb/note (signed notes) and golang.org/x/mod/sumdb/tlog (tiles,
// RFC 6962 hashing, record and tree proofs), reading C2SP tlog-tiles.
//
//	tlogcheck -source DIR|URL -vkey NAME+HEXID+BASE64 [-header 'X-API-Key: k']...
//	          [-origin O] [-index N [-entry-b64 B | -entry-file F | -leaf-hash B]]
//	          [-no-bundle] [-old-size M -old-root B]
//
// It (1) opens the signed checkpoint (`checkpoint`) with note.Open, (2) parses it
// (origin, size, base64 root), (3) recomputes the root from the tiles with
// tlog.TreeHash over tlog.TileHashReader, (4) optionally proves and checks the
// inclusion of leaf N (tlog.ProveRecord, tlog.CheckRecord), checks that entry N of the
// entry bundle hashes to that leaf, and (5) optionally proves and checks consistency
// with an older tree (tlog.ProveTree, tlog.CheckTree). It prints one JSON object and
// exits 0 when everything verified, 1 on any verification failure, 2 on bad usage.
//
// Go's sumdb tile layout differs from C2SP's; the TileReader below maps Go's
// tile/8/<L>/<N>[.p/<W>] and tile/8/data/<N> to C2SP's tile/<L>/<N>[.p/<W>] and
// tile/entries/<N>, and decodes C2SP entry bundles (uint16 length-prefixed entries)
// instead of sumdb's "<id>\n<text>\n" records.
//
// Built offline in GOPATH mode against Debian's golang-golang-x-mod-dev
// (GO111MODULE=off GOPATH=/usr/share/gocode); it uses only the standard library and
// golang.org/x/mod.
package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const height = 8 // C2SP tlog-tiles: tiles of 2**8 hashes

var errNotFound = errors.New("not found")

// ------------------------------------------------------------------ sources

type source interface {
	get(path string) ([]byte, error) // path relative to the log's root, e.g. "checkpoint"
	String() string
}

type dirSource struct{ root string }

func (d dirSource) get(path string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(d.root, filepath.FromSlash(path)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, errNotFound)
	}
	return data, err
}

func (d dirSource) String() string { return d.root }

type httpSource struct {
	base    string
	headers http.Header
	client  *http.Client
}

func (h httpSource) get(path string) ([]byte, error) {
	req, err := http.NewRequest("GET", h.base+"/"+path, nil)
	if err != nil {
		return nil, err
	}
	for k, vs := range h.headers {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<24))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("GET %s: %w", path, errNotFound)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d: %.200s", path, resp.StatusCode, data)
	}
	return data, nil
}

func (h httpSource) String() string { return h.base }

// ------------------------------------------------------------------ tiles

// c2spPath maps a Go sumdb tile (tile/8/<L>/<N>[.p/<W>], tile/8/data/<N>) to its
// C2SP tlog-tiles path (tile/<L>/<N>[.p/<W>], tile/entries/<N>[.p/<W>]).
func c2spPath(t tlog.Tile) string {
	if t.H != height {
		panic(fmt.Sprintf("tile height %d is not %d", t.H, height))
	}
	goPath := t.Path() // tile/8/<L or data>/<N>[.p/<W>]
	rest := strings.TrimPrefix(goPath, fmt.Sprintf("tile/%d/", height))
	if strings.HasPrefix(rest, "data/") {
		rest = "entries/" + strings.TrimPrefix(rest, "data/")
	}
	return "tile/" + rest
}

// tileReader implements tlog.TileReader over a C2SP source.
type tileReader struct {
	src     source
	fetched []string
	cache   map[tlog.Tile][]byte
}

func (r *tileReader) Height() int { return height }

// readTile fetches a tile by its C2SP path; a missing partial tile falls back to the
// full tile's prefix (as C2SP allows and Go's sumdb client does).
func (r *tileReader) readTile(t tlog.Tile) ([]byte, error) {
	if data, ok := r.cache[t]; ok {
		return data, nil
	}
	path := c2spPath(t)
	data, err := r.src.get(path)
	r.fetched = append(r.fetched, path)
	if errors.Is(err, errNotFound) && t.W != 1<<height {
		full := t
		full.W = 1 << height
		var ferr error
		data, ferr = r.src.get(c2spPath(full))
		r.fetched = append(r.fetched, c2spPath(full))
		if ferr == nil {
			if t.L == -1 {
				return data, nil // the caller takes the first W entries
			}
			if len(data) != (1<<height)*tlog.HashSize {
				return nil, fmt.Errorf("%s: %d bytes, want %d", c2spPath(full), len(data),
					(1<<height)*tlog.HashSize)
			}
			data = data[:t.W*tlog.HashSize]
			err = nil
		}
	}
	if err != nil {
		return nil, err
	}
	if t.L >= 0 && len(data) != t.W*tlog.HashSize {
		return nil, fmt.Errorf("%s: %d bytes, want %d", path, len(data), t.W*tlog.HashSize)
	}
	r.cache[t] = data
	return data, nil
}

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := r.readTile(t)
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (r *tileReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

// tileAt is the tile of level l (in tiles) and number n as of a tree of size size.
func tileAt(l int, n, size int64) tlog.Tile {
	max := size
	if l >= 0 {
		max = size >> uint(l*height)
	}
	w := max - n<<height
	if w > 1<<height {
		w = 1 << height
	}
	return tlog.Tile{H: height, L: l, N: n, W: int(w)}
}

// rawHashReader reads stored hashes straight from the tiles without authenticating
// them (tlog.TileHashReader does): it yields the root the tiles imply, for reporting.
type rawHashReader struct {
	tr   *tileReader
	size int64
}

func (r rawHashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		t := tlog.TileForIndex(height, x)
		t = tileAt(t.L, t.N, r.size)
		data, err := r.tr.readTile(t)
		if err != nil {
			return nil, err
		}
		h, err := tlog.HashFromTile(t, data, x)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

// decodeBundle splits a C2SP entry bundle: big-endian uint16 length, then the entry.
func decodeBundle(data []byte) ([][]byte, error) {
	var out [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			return nil, errors.New("entry bundle ends inside a length prefix")
		}
		n := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+n {
			return nil, errors.New("entry bundle ends inside an entry")
		}
		out = append(out, data[2:2+n])
		data = data[2+n:]
	}
	return out, nil
}

// ------------------------------------------------------------------ checkpoint

type checkpoint struct {
	Origin string `json:"origin"`
	Size   int64  `json:"size"`
	Root   string `json:"root"`
	root   tlog.Hash
}

// parseCheckpoint parses C2SP checkpoint text: origin, decimal size, base64 root, then
// optional extension lines. (tlog.ParseTree would insist on the sumdb header line
// "go.sum database tree" where C2SP has the origin.)
func parseCheckpoint(text string) (checkpoint, error) {
	var c checkpoint
	if !strings.HasSuffix(text, "\n") {
		return c, errors.New("checkpoint text does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 || lines[0] == "" {
		return c, errors.New("checkpoint needs origin, size and root lines")
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		return c, fmt.Errorf("checkpoint size %q is not a decimal without leading zeroes", lines[1])
	}
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != tlog.HashSize {
		return c, fmt.Errorf("checkpoint root %q is not a base64 32-byte hash", lines[2])
	}
	c.Origin, c.Size, c.Root = lines[0], n, lines[2]
	copy(c.root[:], h)
	return c, nil
}

// ------------------------------------------------------------------ main

type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

type result struct {
	OK               bool        `json:"ok"`
	Error            string      `json:"error,omitempty"`
	Stage            string      `json:"stage,omitempty"` // where it failed
	Source           string      `json:"source"`
	Checkpoint       *checkpoint `json:"checkpoint,omitempty"`
	Signers          []string    `json:"signers,omitempty"`
	UnverifiedSigs   []string    `json:"unverified_signatures,omitempty"`
	TilesRoot        string      `json:"tiles_root,omitempty"`
	RootOK           bool        `json:"root_ok"`
	Index            *int64      `json:"index,omitempty"`
	LeafHash         string      `json:"leaf_hash,omitempty"`
	TileLeafHash     string      `json:"tile_leaf_hash,omitempty"`
	InclusionProof   []string    `json:"inclusion_proof"`
	InclusionOK      bool        `json:"inclusion_ok"`
	BundleEntryOK    *bool       `json:"bundle_entry_ok,omitempty"`
	OldSize          *int64      `json:"old_size,omitempty"`
	ConsistencyProof []string    `json:"consistency_proof"`
	ConsistencyOK    bool        `json:"consistency_ok"`
	TilesFetched     []string    `json:"tiles_fetched"`
}

func b64(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

func b64s(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = b64(h)
	}
	return out
}

func parseHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != tlog.HashSize {
		return h, fmt.Errorf("%q is not a base64 32-byte hash", s)
	}
	copy(h[:], b)
	return h, nil
}

func usage(msg string) {
	fmt.Fprintln(os.Stderr, "tlogcheck:", msg)
	flag.Usage()
	os.Exit(2)
}

func main() {
	var headers headerFlags
	src := flag.String("source", "", "directory of C2SP tiles, or http(s) base URL (serving /checkpoint and /tile/...)")
	vkey := flag.String("vkey", "", "the log's note verifier key name+hexid+base64")
	origin := flag.String("origin", "", "expected checkpoint origin (optional)")
	index := flag.Int64("index", -1, "leaf index to prove (optional)")
	entryB64 := flag.String("entry-b64", "", "the entry's bytes, base64")
	entryFile := flag.String("entry-file", "", "file holding the entry's bytes ('-': stdin)")
	leafHash := flag.String("leaf-hash", "", "the leaf hash, base64 (instead of the entry)")
	noBundle := flag.Bool("no-bundle", false, "do not read the entry bundle for -index")
	oldSize := flag.Int64("old-size", -1, "older tree size to prove consistency with (optional)")
	oldRoot := flag.String("old-root", "", "root of the older tree, base64")
	timeout := flag.Duration("timeout", 30*time.Second, "HTTP timeout")
	flag.Var(&headers, "header", "HTTP header 'Name: value' (repeatable)")
	flag.Parse()
	if *src == "" || *vkey == "" {
		usage("-source and -vkey are required")
	}
	if (*oldSize >= 0) != (*oldRoot != "") {
		usage("-old-size and -old-root go together")
	}
	given := 0
	for _, s := range []string{*entryB64, *entryFile, *leafHash} {
		if s != "" {
			given++
		}
	}
	if given > 1 || (given == 1 && *index < 0) {
		usage("give at most one of -entry-b64, -entry-file, -leaf-hash, and only with -index")
	}

	var s source
	if strings.HasPrefix(*src, "http://") || strings.HasPrefix(*src, "https://") {
		h := http.Header{}
		for _, line := range headers {
			k, v, ok := strings.Cut(line, ":")
			if !ok || strings.TrimSpace(k) == "" {
				usage(fmt.Sprintf("header %q is not 'Name: value'", line))
			}
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		s = httpSource{strings.TrimRight(*src, "/"), h, &http.Client{Timeout: *timeout}}
	} else {
		if len(headers) > 0 {
			usage("-header is only for an HTTP source")
		}
		s = dirSource{*src}
	}

	tr := &tileReader{src: s, cache: map[tlog.Tile][]byte{}}
	res := &result{Source: s.String()}
	exit := func(stage string, err error) {
		res.TilesFetched = tr.fetched
		if res.TilesFetched == nil {
			res.TilesFetched = []string{}
		}
		if err != nil {
			res.OK, res.Stage, res.Error = false, stage, err.Error()
		} else {
			res.OK = true
		}
		out, _ := json.MarshalIndent(res, "", "  ")
		fmt.Println(string(out))
		if err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}

	// (1) the signed checkpoint
	verifier, err := note.NewVerifier(*vkey)
	if err != nil {
		usage(fmt.Sprintf("-vkey: %v", err))
	}
	msg, err := s.get("checkpoint")
	if err != nil {
		exit("checkpoint", err)
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		exit("signature", err)
	}
	for _, sig := range n.Sigs {
		res.Signers = append(res.Signers, fmt.Sprintf("%s+%08x", sig.Name, sig.Hash))
	}
	for _, sig := range n.UnverifiedSigs {
		res.UnverifiedSigs = append(res.UnverifiedSigs, fmt.Sprintf("%s+%08x", sig.Name, sig.Hash))
	}

	// (2) its text
	cp, err := parseCheckpoint(n.Text)
	if err != nil {
		exit("checkpoint", err)
	}
	res.Checkpoint = &cp
	if *origin != "" && cp.Origin != *origin {
		exit("checkpoint", fmt.Errorf("origin %q, want %q", cp.Origin, *origin))
	}

	// (3) the root, from the tiles
	tree := tlog.Tree{N: cp.Size, Hash: cp.root}
	hr := tlog.TileHashReader(tree, tr)
	if cp.Size == 0 {
		// tlog.TreeHash(0) is the zero hash; RFC 6962/C2SP's empty root is SHA-256("").
		empty := tlog.Hash(sha256.Sum256(nil))
		res.TilesRoot = b64(empty)
		if empty != cp.root {
			exit("root", errors.New("an empty tree's root must be SHA-256 of nothing"))
		}
	} else {
		raw, err := tlog.TreeHash(cp.Size, rawHashReader{tr, cp.Size})
		if err != nil {
			exit("root", err)
		}
		res.TilesRoot = b64(raw)
		th, err := tlog.TreeHash(cp.Size, hr)
		if err != nil {
			exit("root", err)
		}
		if th != cp.root || raw != cp.root {
			exit("root", fmt.Errorf("tiles give root %s, checkpoint says %s", b64(raw), cp.Root))
		}
	}
	res.RootOK = true

	// (4) inclusion of a leaf
	if *index >= 0 {
		res.Index = index
		if *index >= cp.Size {
			exit("inclusion", fmt.Errorf("index %d is not in a tree of size %d", *index, cp.Size))
		}
		var entry []byte
		haveEntry := false
		switch {
		case *entryB64 != "":
			entry, err = base64.StdEncoding.DecodeString(*entryB64)
			if err != nil {
				usage("-entry-b64 is not base64")
			}
			haveEntry = true
		case *entryFile == "-":
			entry, err = io.ReadAll(os.Stdin)
			haveEntry = true
		case *entryFile != "":
			entry, err = os.ReadFile(*entryFile)
			haveEntry = true
		}
		if err != nil {
			usage(err.Error())
		}
		// Every hash below is only trusted once tlog.CheckRecord has tied it to the signed
		// root: x/mod 0.7.0's TileHashReader does not authenticate every tile it returns
		// hashes from (its parent-check loop starts at len(stx), the number of root
		// subtree hashes, not the number of tiles holding them).
		stored, err := hr.ReadHashes([]int64{tlog.StoredHashIndex(0, *index)})
		if err != nil {
			exit("inclusion", err)
		}
		res.TileLeafHash = b64(stored[0])
		proof, err := tlog.ProveRecord(cp.Size, *index, hr)
		if err != nil {
			exit("inclusion", err)
		}
		res.InclusionProof = b64s(proof)
		check := func(leaf tlog.Hash) error {
			return tlog.CheckRecord(proof, cp.Size, cp.root, *index, leaf)
		}
		given := haveEntry || *leafHash != ""
		var leaf tlog.Hash
		switch {
		case haveEntry:
			leaf = tlog.RecordHash(entry)
		case *leafHash != "":
			if leaf, err = parseHash(*leafHash); err != nil {
				usage("-leaf-hash: " + err.Error())
			}
		default:
			leaf = stored[0]
		}
		if given || *noBundle {
			res.LeafHash = b64(leaf)
			if err := check(leaf); err != nil {
				exit("inclusion", err)
			}
		}
		if !*noBundle {
			t := tileAt(-1, *index>>height, cp.Size)
			data, err := tr.readTile(t)
			if err != nil {
				exit("bundle", err)
			}
			entries, err := decodeBundle(data)
			if err != nil {
				exit("bundle", fmt.Errorf("%s: %v", c2spPath(t), err))
			}
			// a full bundle read in place of a missing partial one may hold more
			if len(entries) != t.W && !(len(entries) == 1<<height && t.W < 1<<height) {
				exit("bundle", fmt.Errorf("%s holds %d entries, want %d", c2spPath(t), len(entries), t.W))
			}
			e := tlog.RecordHash(entries[*index&(1<<height-1)])
			if !given {
				res.LeafHash = b64(e)
			}
			err = check(e)
			ok := err == nil
			res.BundleEntryOK = &ok
			if !ok && !given && e == stored[0] {
				// the entry matches its leaf tile: the tiles are what fail the proof
				exit("inclusion", err)
			}
			if !ok {
				exit("bundle", fmt.Errorf("entry %d of %s does not hash to the tree's leaf", *index, c2spPath(t)))
			}
		}
		res.InclusionOK = true
	}

	// (5) consistency with an older tree
	if *oldSize >= 0 {
		res.OldSize = oldSize
		old, err := parseHash(*oldRoot)
		if err != nil {
			usage("-old-root: " + err.Error())
		}
		if *oldSize > cp.Size || *oldSize == 0 {
			exit("consistency", fmt.Errorf("old size %d is not in 1..%d", *oldSize, cp.Size))
		}
		proof, err := tlog.ProveTree(cp.Size, *oldSize, hr)
		if err != nil {
			exit("consistency", err)
		}
		res.ConsistencyProof = b64s(proof)
		if err := tlog.CheckTree(proof, cp.Size, cp.root, *oldSize, old); err != nil {
			exit("consistency", err)
		}
		res.ConsistencyOK = true
	}
	exit("", nil)
}
